"""The training regime shared by the ladder models (METHOD.md sections 1-2).

:class:`LadderModel` holds what BetaVAE, VLAE and ProVLAE have in common: the ladder
network, the beta-weighted ELBO, Adam, and the public methods' use of the network.
A subclass says how many latent dimensions each level has and, for ProVLAE, how the
gates and KL weights change during training.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import BaseDisentangler
from ..nn.distributions import kl_to_standard_normal, reparameterize
from ..nn.ladder import LadderNetwork

__all__ = ["LadderModel", "COMMON_PARAMETERS"]

COMMON_PARAMETERS = """\
likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Observation model. Bernoulli (the reference's choice for every data set)
        reads pixel intensities in [0, 1] as probabilities; Gaussian has one learned
        standard deviation and accepts any real values.
    batch_size : int, default=128
        Samples per training step (the reference used 128 on dSprites).
    learning_rate : float, default=5e-4
        Adam's learning rate (the reference's value).
    conv_channels : int, default=32
        Channels of every convolution of the ladder (images).
    dense_units : int, default=256
        Width of every hidden dense layer.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)``: read flat rows of ``X`` as images of this
        shape. Rows without it are modelled by a dense network.
    device : str, default="auto"
        Torch device; ``"auto"`` uses a CUDA GPU when there is one.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs the network under bfloat16 autocast (losses stay float32).
    compile : bool, default=False
        Compile the network with ``torch.compile`` for training and inference.
    warm_start : bool, default=False
        When True and the model is already fitted, ``fit`` continues from the
        current weights, optimiser state and schedule up to the full number of
        epochs, rather than starting again.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the reparameterisation noise:
        a CPU fit with an int is repeatable bit for bit.
    verbose : int, default=0
        Print one line per epoch when positive."""


class LadderModel(BaseDisentangler):
    """Shared regime of the ladder models; not meant to be used directly."""

    _network_class = LadderNetwork

    _parameter_constraints: dict = {
        **BaseDisentangler._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"bernoulli", "gaussian"})],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
    }

    # What a subclass defines.
    def _latent_dims(self):
        raise NotImplementedError  # pragma: no cover

    def _gates(self, training):
        """Per-level gates for the current position in training, shape (depth,)."""
        return torch.ones(len(self._latent_dims()))

    def _kl_weights(self):
        """Per-level weights of the KL terms in the training loss, shape (depth,)."""
        return torch.full((len(self._latent_dims()),), float(self.beta))

    # The shell's hooks.
    def _build_network(self, layout):
        return LadderNetwork(
            layout.network_shape,
            self._latent_dims(),
            conv_channels=self.conv_channels,
            dense_units=self.dense_units,
            likelihood=self.likelihood,
        )

    def _build_optimizers(self, network):
        return {"adam": torch.optim.Adam(network.parameters(), lr=self.learning_rate)}

    def _train_step(self, x):
        device = x.device
        gates = self._gates(training=True).to(device)
        weights = self._kl_weights().to(device)
        log_likelihood, kl = self._network_call()(x, gates, self._noise_rng)
        reconstruction = -log_likelihood.mean()
        kl_per_level = kl.mean(dim=0)
        loss = reconstruction + (kl_per_level * weights).sum()
        self._step(loss, self._optimizers["adam"])
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl_per_level}

    def _encode(self, x):
        gates = self._gates(training=False).to(x.device)
        mus, _ = self.network_.encode(x, gates)
        return torch.cat(mus, dim=1)

    def _split_codes(self, codes):
        return list(torch.split(codes, list(self.latent_dims_), dim=1))

    def _decode(self, codes):
        gates = self._gates(training=False).to(codes.device)
        output = self.network_.decode(self._split_codes(codes), gates)
        return self.network_.likelihood.mean(output.float())

    def _elbo(self, x, generator):
        gates = self._gates(training=False).to(x.device)
        mus, logvars = self.network_.encode(x, gates)
        zs = [reparameterize(m.float(), v.float(), generator) for m, v in zip(mus, logvars)]
        output = self.network_.decode(zs, gates)
        log_likelihood = self.network_.likelihood.log_prob(output.float(), x)
        kl = torch.stack(
            [kl_to_standard_normal(m.float(), v.float()) for m, v in zip(mus, logvars)], dim=1
        )
        active = (gates > 0).to(kl.dtype)
        return log_likelihood - (kl * active).sum(dim=1)

    def _sample_codes(self, n_samples, generator):
        return torch.randn(n_samples, self.n_components_, generator=generator)

    def _feature_names(self):
        return [
            f"level{level + 1}_z{j}"
            for level, dim in enumerate(self.latent_dims_)
            for j in range(dim)
        ]

    def _initialize(self, layout, device):
        super()._initialize(layout, device)
        self.latent_dims_ = tuple(self._latent_dims())
        self.n_components_ = int(sum(self.latent_dims_))

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
