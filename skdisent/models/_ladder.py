"""The training regime shared by the ladder models (METHOD.md sections 1-2).

:class:`LadderModel` holds what BetaVAE, VLAE and ProVLAE have in common: the ladder
network, the beta-weighted ELBO, Adam, and the public methods' use of the network.
A subclass says how many latent dimensions each level has and, for ProVLAE, how the
gates and KL weights change during training.
"""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import BaseDisentangler
from ..engine.device import to_device
from ..engine.optim import fused_adam
from ..nn.distributions import kl_to_standard_normal, reparameterize
from ..nn.ladder import LadderNetwork
from ..nn.ladder_celeba import CelebALadderNetwork
from ..nn.layers import NORMALIZATIONS
from ._posterior import GaussianPosterior

__all__ = ["LadderModel", "COMMON_PARAMETERS", "training_compile_options"]


def training_compile_options(network, precision):
    """Inductor options for compiling the training pass of a ladder network.

    On the CPU the channels-last ladder is compiled with inductor's layout
    optimisation forced on: inductor leaves it off in a graph without forward
    convolutions, the backward graph, where it then copies the feature maps of the
    one-channel convolutions (first and last) into another layout before each of
    their gradients. A ladder of the classic layout (``channels_last=False``, from a
    model file written before the channels-last ladder) is compiled for bf16 on the
    CPU with 256-bit vectors: torch 2.13's AVX-512 code for its backward pass gives
    NaN gradients.

    Parameters
    ----------
    network : LadderNetwork
        The network, on the device it trains on.
    precision : {"fp32", "bf16"}
        The estimator's precision.

    Returns
    -------
    options : dict or None
        A new dict of options, or None for inductor's defaults.
    """
    if next(network.parameters()).device.type != "cpu":
        return None
    if network.channels_last:
        return {"force_layout_optimization": True}
    if precision == "bf16":
        return {"cpp.simdlen": 256}
    return None


COMMON_PARAMETERS = """\
likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Observation model. Bernoulli (the reference's choice for every data set)
        reads pixel intensities in [0, 1] as probabilities; Gaussian has one learned
        standard deviation and accepts any real values. ``"auto"`` chooses in ``fit``:
        Bernoulli for ``uint8`` data or data within [0, 1], Gaussian otherwise (so
        that standardised features, e.g. after a ``StandardScaler``, work);
        ``likelihood_`` keeps the choice.
    batch_size : int, default=128
        Samples per training step (the reference used 128 on dSprites).
    learning_rate : float, default=5e-4
        Adam's learning rate (the reference's value).
    conv_channels : int or tuple of int, default=32
        Channels of every convolution of the ladder (images), or one width per
        level, shallowest first. With ``architecture="celeba"``, an int is the first
        level's width, doubled at each deeper level (the reference: 64).
    architecture : {"vlae", "celeba"}, default="vlae"
        ``"vlae"``: the ladder of the pro-VLAE reference for dSprites and 3DShapes
        (:class:`~skdisent.nn.LadderNetwork`). ``"celeba"``: the reference's
        four-level CelebA network (:class:`~skdisent.nn.CelebALadderNetwork`: leaky
        ReLU, widths doubling per level, two-convolution heads, clipped
        log-variances); images whose sides are multiples of 32, four levels.
    dense_units : int, default=256
        Width of every hidden dense layer.
    normalization : {"affine", "batch"}, default="affine"
        What follows the activation of every hidden layer. ``"affine"``: a learned
        per-channel scale and shift, the same in ``fit`` and afterwards, with no
        running statistics: what the reference code of pro-VLAE executed (its
        batch-normalisation layers never left their initial statistics); on the
        demo's settings it reconstructed better and disentangled more than batch
        norm for all three ladder models (``benchmarks/README.md``). ``"batch"``:
        batch norm (batch statistics in ``fit``, running statistics afterwards), the
        only choice before this parameter existed.
    initialization : {"torch", "glorot"}, default="torch"
        How a fresh fit draws the weights of the dense and convolution layers:
        PyTorch's defaults (Kaiming-uniform weights, small uniform biases), or TF1's,
        which the pro-VLAE reference ran with (Glorot-uniform weights, zero biases).
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)``: read flat rows of ``X`` as images of this
        shape. Rows without it are modelled by a dense network.
    device : str, default="auto"
        Torch device; ``"auto"`` uses a CUDA GPU when there is one.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs the network under bfloat16 autocast in ``fit`` and in the
        public methods; weights, optimiser state, losses, likelihoods and KL terms
        stay float32. Where the hardware computes in bf16 (CPUs with AVX512-BF16 or
        AMX, NVIDIA GPUs from Ampere on) it trains and encodes faster than fp32
        (``benchmarks/README.md`` measures by how much, and ``bf16_vs_fp32.py`` there
        compares the fits). On hardware without bf16 arithmetic it is slower: keep
        fp32.
    compile : bool, default=False
        Compile the network with ``torch.compile`` (its training pass, and the
        encoder that ``transform`` uses), with a dynamic batch dimension so that
        one compilation serves every batch size. The first training step and the
        first ``transform`` pay for the compilation (about a minute on a 2-core
        CPU, less when PyTorch's inductor cache already holds it); then training
        and ``transform`` run faster, compiled bf16 fastest of all where the CPU
        has bf16 arithmetic (figures in ``benchmarks/README.md``). A compiled
        model pickles as any other (the compiled code is not saved; it is
        compiled again when used). For short fits, tests and notebooks keep the
        defaults, which start at once.
    warm_start : bool, default=False
        When True and the model is already fitted, ``fit`` continues from the
        current weights, optimiser state, generator states and schedule (for
        ProVLAE, inside a progressive step: its fade-in goes on where it was) up
        to the full number of epochs, rather than starting again; on a CPU, a fit
        stopped and continued this way equals an uninterrupted one bit for bit.
        A model not fitted in this process resumes from the newest checkpoint in
        ``checkpoint_dir`` when there is one. A ``learning_rate`` changed with
        ``set_params`` takes effect.
    checkpoint_dir : str or path-like, default=None
        Folder to write checkpoints to (created if needed): model files
        (:func:`skdisent.load` reads them) named ``epoch-<n>.safetensors``, written
        atomically every ``checkpoint_every`` epochs, at the end of every
        progressive step (ProVLAE), at the end of the fit and when a fit is
        interrupted. The folder keeps the newest two. Resume with
        ``warm_start=True`` or :func:`skdisent.load_checkpoint`. Give each fit its
        own folder: a fit with ``warm_start=False`` replaces the folder's
        checkpoints.
    checkpoint_every : int, default=1
        Epochs between checkpoints when ``checkpoint_dir`` is set.
    on_nan : {"raise", "reduce_lr"}, default="raise"
        What a NaN or infinite loss does. ``"raise"``: stop with
        :class:`~skdisent.NonFiniteLossError`, keeping the weights of the last
        completed epoch. ``"reduce_lr"``: go back to those weights, multiply the
        learning rate by ``nan_lr_factor`` and run the epoch again, at most
        ``max_nan_retries`` times over the model's training (a fresh fit resets
        the count); ``history_`` then records ``lr_scale`` (the factor in use)
        and ``nan_retries`` (the epoch's restarts) for every epoch.
    nan_lr_factor : float, default=0.5
        Factor in (0, 1) applied to the learning rate at each retry
        (``on_nan="reduce_lr"``).
    max_nan_retries : int, default=3
        Retries allowed over the model's training (``on_nan="reduce_lr"``);
        the next non-finite loss raises.
    n_threads : int or None, default=None
        Torch CPU threads in ``fit`` and the other methods (torch's count is restored
        after each call). None: all the CPUs this process may use but one, at least
        one, and no more than torch already allows (``OMP_NUM_THREADS``, joblib's
        workers); a negative value counts back from all of them (-1: all). Leaving a
        CPU free keeps a fit from collapsing when anything else runs on the machine.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the reparameterisation noise:
        a CPU fit with an int is repeatable bit for bit on the same CPU, torch version
        and number of threads (``history_`` records it as ``threads``: sums split over
        more threads round differently).
    verbose : int, default=0
        Print one line per epoch when positive."""


class LadderModel(GaussianPosterior, BaseDisentangler, metaclass=ABCMeta):
    """Shared regime of the ladder models; not meant to be used directly."""

    @property
    def _network_class(self):
        return CelebALadderNetwork if self.architecture == "celeba" else LadderNetwork
    _fitted_attributes = (*BaseDisentangler._fitted_attributes, "latent_dims_", "n_components_")

    _parameter_constraints: dict = {
        **BaseDisentangler._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "conv_channels": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "architecture": [StrOptions({"vlae", "celeba"})],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "normalization": [StrOptions(set(NORMALIZATIONS))],
        "initialization": [StrOptions({"torch", "glorot"})],
    }

    @abstractmethod
    def _latent_dims(self):
        """Latent dimensions per level, shallowest first: BetaVAE, VLAE, ProVLAE define it."""

    def _gates(self, training):
        """Per-level encoder and decoder gates now: two tensors of shape (depth,)."""
        ones = torch.ones(len(self._latent_dims()))
        return ones, ones

    def _kl_weights(self):
        """Per-level weights of the KL terms in the training loss, shape (depth,)."""
        return torch.full((len(self._latent_dims()),), float(self.beta))

    # The hooks of BaseDisentangler.
    def _build_network(self, layout):
        return self._network_class(
            layout.network_shape,
            self._latent_dims(),
            conv_channels=self.conv_channels,
            dense_units=self.dense_units,
            likelihood=self.likelihood_,
            channels_last=True,
            normalization=self.normalization,
        )

    def _training_pass(self):
        """The network's training pass: the module, compiled once when ``compile=True``.

        Compiled with :func:`training_compile_options` where those are not inductor's
        defaults.
        """
        if not self.compile:
            return self.network_
        options = training_compile_options(self.network_, self.precision)
        if options is None:
            return self._compiled_function("forward", self.network_)
        name = "forward-cpu" if self.network_.channels_last else "forward-classic-bf16-cpu"
        return self._compiled_function(name, self.network_, options=options)

    def _build_optimizers(self, network):
        return {"adam": fused_adam(network.parameters(), lr=self.learning_rate)}

    def _train_batch(self, x, trainer):
        device = x.device
        encoder_gates, decoder_gates = (to_device(g, device) for g in self._gates(training=True))
        weights = to_device(self._kl_weights(), device)
        # The noise is drawn here, as the network would draw it, so that a compiled
        # network holds no generator (a generator argument breaks torch.compile's graph).
        noise = self.network_.draw_noise(len(x), self._training.noise_generator, device)
        log_likelihood, kl = self._training_pass()(x, encoder_gates, decoder_gates, noise=noise)
        reconstruction = -log_likelihood.mean()
        kl_per_level = kl.mean(dim=0)
        loss = reconstruction + (kl_per_level * weights).sum()
        trainer.optimize(loss, "adam")
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl_per_level}

    def _encode(self, x):
        gates = to_device(self._gates(training=False)[0], x.device)
        mus, _ = self._compiled_function("encode", self.network_.encode)(x, gates)
        return torch.cat(mus, dim=1)

    def _posterior_function(self, device):
        gates = to_device(self._gates(training=False)[0], device)

        def parameters(x):
            mus, logvars = self.network_.encode(x, gates)
            return torch.cat(mus, dim=1), torch.cat(logvars, dim=1)

        return parameters

    def _split_codes(self, codes):
        return list(torch.split(codes, list(self.latent_dims_), dim=1))

    def _decode(self, codes):
        gates = to_device(self._gates(training=False)[1], codes.device)
        output = self.network_.decode(self._split_codes(codes), gates)
        return self.network_.likelihood.mean(output.float())

    def _score_batch(self, x, generator):
        """The ELBO of each sample of ``x``, with ``beta=1`` and the levels now active."""
        encoder_gates, decoder_gates = (to_device(g, x.device) for g in self._gates(training=False))
        mus, logvars = self.network_.encode(x, encoder_gates)
        zs = [reparameterize(m.float(), v.float(), generator) for m, v in zip(mus, logvars)]
        output = self.network_.decode(zs, decoder_gates)
        log_likelihood = self.network_.likelihood.log_prob(output.float(), x)
        kl = torch.stack(
            [kl_to_standard_normal(m.float(), v.float()) for m, v in zip(mus, logvars)], dim=1
        )
        active = (decoder_gates > 0).to(kl.dtype)
        return log_likelihood - (kl * active).sum(dim=1)

    def _sample_codes(self, n_samples, generator):
        return torch.randn(n_samples, self.n_components_, generator=generator)

    def _feature_names(self):
        return [
            f"level{level + 1}_z{j}"
            for level, dim in enumerate(self.latent_dims_)
            for j in range(dim)
        ]

    def _fitted_from_network(self, network):
        dims = tuple(int(d) for d in network.latent_dims)
        return {"latent_dims_": dims, "n_components_": sum(dims),
                "likelihood_": network.likelihood_name}

    @property
    def levels_(self):
        """Number of levels of the fitted ladder (including levels without latents)."""
        return len(self.latent_dims_)

    def level_slices(self):
        """Column slices of :meth:`transform`'s output, one per level, shallowest first.

        Returns
        -------
        slices : list of slice
        """
        bounds = np.cumsum([0, *self.latent_dims_])
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
