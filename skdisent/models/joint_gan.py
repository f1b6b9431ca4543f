"""JointGAN: the joint baseline of the LDF paper, one GAN over whole objects.

The LDF paper (papers/001, section 5) measures its decoupled, local training against
"a GAN where the discriminator sees all of the visible variables directly and the
generator outputs all variables in the visible space directly", with a video's frames
stacked on the channels. :class:`JointGAN` is that GAN, with the layers of LDF's
lower-level ALI and the same update (:mod:`skdisent.nn.gan`), so that users can run
the comparison with :class:`~skdisent.LDFModel` themselves.

Where we differ from the paper: it gives neither its baseline's layers nor its
training settings; ours are LDF's (see :mod:`skdisent.nn.gan`), including the
gradient-norm regulariser of Roth et al. on the discriminator.
"""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._data import InputLayout
from ..base import BaseGenerativeModel
from ..engine.device import with_threads
from ..engine.optim import fused_adam
from ..nn.gan import GANNetwork

__all__ = ["JointGAN"]


class JointGAN(BaseGenerativeModel):
    """A GAN whose generator outputs, and whose discriminator sees, the whole object.

    The joint baseline of "Learning generative models with locally disentangled latent
    factors" (papers/001, section 5) against which :class:`~skdisent.LDFModel`'s
    claims are made: a generator ``x = G(z)`` from ``z ~ N(0, I)`` of ``latent_dim``
    to the whole object, and a discriminator ``D(x)`` that sees all of it. Images
    ``(n, C, H, W)`` are seen whole; videos ``(n, T, C, H, W)`` are read as images of
    ``T * C`` channels (the frames stacked on the channels, as in the paper).

    The networks follow the layer rules of LDF's lower-level ALI, applied to the whole
    object instead of a piece (a 32x32 image gets one more stride-2 layer than a
    16x16 patch), and the training is that of an ALI level without encoder and
    reconstruction terms: the non-saturating GAN loss, the gradient-norm regulariser
    of Roth et al. (2017) on the discriminator, Adam with ``betas=(0.5, 0.999)``, and
    per batch one discriminator update then one generator update.

    It has no encoder, so it is not a transformer: it has no ``transform``, and no
    ``score`` either, since a GAN defines no likelihood to evaluate data by (the
    discriminator's output measures the discriminator as much as the data). Judge it
    by its samples, e.g. against held-out data with a distance between sets of
    images; :meth:`generate` decodes fixed noise, for curves of quality over training.

    Parameters
    ----------
    latent_dim : int, default=64
        Dimension of the noise ``z``. For a comparison with LDF, give it the size of
        LDF's codes together (``global_dim``, or ``n_pieces * local_dim``).
    n_epochs : int, default=50
        Passes over the data.
    gradient_penalty : float, default=1.0
        ``gamma`` of the Roth et al. regulariser; 0 turns it off.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        ``"bernoulli"``: the generator outputs logits whose sigmoid the discriminator
        sees; data are probabilities in [0, 1] (or uint8). ``"gaussian"``: any real
        values, output as they are. ``"auto"``: Bernoulli for uint8 data or data within
        [0, 1], Gaussian otherwise (kept in ``likelihood_``).
    batch_size : int, default=64
        Objects per update.
    learning_rate : float, default=5e-4
        Adam's learning rate for both networks.
    conv_channels : int, default=32
        Channels of the first convolution; each further stride-2 layer doubles them.
    dense_units : int, default=256
        Width of the hidden dense layers.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)``: read flat rows of ``X`` as images of this shape.
    device : str, default="auto"
        Torch device; ``"auto"`` uses a CUDA GPU when there is one.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs the networks under bfloat16 autocast (losses stay float32).
    warm_start : bool, default=False
        When True and the model is already fitted (or ``checkpoint_dir`` holds a
        checkpoint), ``fit`` continues from the current weights, optimiser and
        generator states up to ``n_epochs``.
    checkpoint_dir : str or path-like, default=None
        Folder that receives a model file every ``checkpoint_every`` epochs; see
        :func:`skdisent.load_checkpoint`.
    checkpoint_every : int, default=1
        Epochs between checkpoints when ``checkpoint_dir`` is set.
    on_nan : {"raise", "reduce_lr"}, default="raise"
        After a NaN or infinite loss: stop with :class:`~skdisent.NonFiniteLossError`
        at the last completed epoch, or run that epoch again with the learning rates
        times ``nan_lr_factor``, at most ``max_nan_retries`` times.
    nan_lr_factor : float, default=0.5
        Factor in (0, 1) applied to the learning rates at each retry.
    max_nan_retries : int, default=3
        Retries allowed with ``on_nan="reduce_lr"``.
    n_threads : int or None, default=None
        Torch CPU threads; None: all CPUs but one (see :class:`~skdisent.VLAE`).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the noise: a CPU fit with an int
        is repeatable bit for bit on the same CPU, torch version and number of torch
        threads (recorded in ``history_`` as ``threads``).
    verbose : int, default=0
        Print one line per epoch when positive.

    Attributes
    ----------
    network_ : GANNetwork
        The trained generator and discriminator (on CPU after unpickling).
    likelihood_ : {"bernoulli", "gaussian"}
        The observation model (what ``likelihood="auto"`` chose).
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``discriminator`` (its loss),
        ``penalty`` (the Roth et al. regulariser), ``adversarial`` (the generator's
        loss), ``time`` (seconds), ``images_per_s`` (objects per second) and
        ``threads`` (torch's CPU threads), as LDF's records per level.
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of updates (batches) run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one object seen in ``fit``.

    See Also
    --------
    LDFModel : the decoupled, local model this baseline is compared with.

    References
    ----------
    .. [1] "Learning generative models with locally disentangled latent factors",
       under review (papers/001 of this project).
    .. [2] K. Roth, A. Lucchi, S. Nowozin and T. Hofmann, "Stabilizing training of
       generative adversarial networks through regularization", NeurIPS 2017.

    Examples
    --------
    >>> from skdisent import JointGAN
    >>> from skdisent.datasets import make_moving_sprites
    >>> videos = make_moving_sprites(n_samples=32, size=16, random_state=0).videos
    >>> model = JointGAN(latent_dim=8, n_epochs=1, batch_size=16, conv_channels=4,
    ...                  dense_units=16, random_state=0).fit(videos)
    >>> model.network_.observation_shape
    (15, 16, 16)
    >>> model.sample(2, random_state=0).shape
    (2, 5, 3, 16, 16)
    """

    _network_class = GANNetwork

    _parameter_constraints: ClassVar[dict] = {
        **{k: v for k, v in BaseGenerativeModel._parameter_constraints.items() if k != "compile"},
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "gradient_penalty": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        latent_dim=64,
        *,
        n_epochs=50,
        gradient_penalty=1.0,
        likelihood="auto",
        batch_size=64,
        learning_rate=5e-4,
        conv_channels=32,
        dense_units=256,
        image_shape=None,
        device="auto",
        precision="fp32",
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=1,
        on_nan="raise",
        nan_lr_factor=0.5,
        max_nan_retries=3,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.n_epochs = n_epochs
        self.gradient_penalty = gradient_penalty
        self.likelihood = likelihood
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.conv_channels = conv_channels
        self.dense_units = dense_units
        self.image_shape = image_shape
        self.device = device
        self.precision = precision
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.on_nan = on_nan
        self.nan_lr_factor = nan_lr_factor
        self.max_nan_retries = max_nan_retries
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the generator and the discriminator to the objects ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, C, H, W), (n_samples, C, H, W), (n_samples, H, W) or (n_samples, n_features)
            Whole objects: videos (read as images of ``T * C`` channels), images, or
            flat rows (read as images when ``image_shape`` is set, dense networks
            otherwise). ``uint8`` is read as 0..255.
        y : Ignored
            Accepted so that factors or labels can ride along in pipelines.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X)

    def _input_layout(self, X):
        """Images and rows as in the base class, plus videos, frames stacked on the channels."""
        if X.ndim > 5:
            raise ValueError(
                f"X must be videos (n_samples, T, C, H, W), images (n_samples, C, H, W) or "
                f"(n_samples, H, W), or flat rows; got {X.ndim} dimensions, shape {X.shape}."
            )
        if X.ndim < 5:
            return super()._input_layout(X)
        if self.image_shape is not None:
            raise ValueError("image_shape is for flat rows only; leave it None for videos.")
        frames, channels, height, width = X.shape[1:]
        return InputLayout(tuple(X.shape[1:]), (frames * channels, height, width))

    def _fitted_from_network(self, network):
        return {"likelihood_": network.likelihood}

    def _n_epochs_total(self):
        return self.n_epochs

    def _build_network(self, layout):
        return GANNetwork(layout.network_shape, self.latent_dim, self.conv_channels,
                          self.dense_units, self.likelihood_)

    def _build_optimizers(self, network):
        def adam(parameters):
            return fused_adam(parameters, lr=self.learning_rate, betas=(0.5, 0.999))

        return {"generator": adam(network.generator_parameters()),
                "discriminator": adam(network.discriminator_parameters())}

    def _train_batch(self, x, trainer):
        z = torch.randn(len(x), self.network_.latent_dim,
                        generator=self._training.noise_generator, device=x.device)
        loss, stats = self.network_.losses(
            x, z, lambda d_loss: trainer.optimize(d_loss, "discriminator"),
            self.gradient_penalty)
        trainer.optimize(loss, "generator")
        return stats

    def _score_batch(self, x, generator):
        """The discriminator's logits on ``x`` and on as many samples (checked finite)."""
        network = self.network_
        z = torch.randn(len(x), network.latent_dim, generator=generator, device=x.device)
        fake = network.mean(network.generate(z))
        return torch.stack([network.discriminate(x), network.discriminate(fake)], dim=1)

    # ------------------------------------------------------- public methods

    def _sample_codes(self, n_samples, generator):
        return torch.randn(n_samples, self.network_.latent_dim, generator=generator)

    def _decode(self, codes):
        return self.network_.mean(self.network_.generate(codes)).float()

    @with_threads
    def generate(self, codes):
        """Objects the generator makes from given noise.

        :meth:`sample` draws the noise itself; with a fixed array of noise, this shows
        how the same draws change over training (fit with ``warm_start=True`` between
        calls).

        Parameters
        ----------
        codes : array-like of shape ``(n_samples, latent_dim)``
            Noise, as drawn from ``N(0, I)``.

        Returns
        -------
        X : ndarray of shape ``(n_samples, *input_shape_)``, dtype float32
            The generated objects, in the layout and scale of ``fit``'s ``X`` (in
            [0, 1] for a Bernoulli likelihood, whatever the training data's dtype).
        """
        check_is_fitted(self, "network_")
        codes = check_array(codes, dtype=[np.float32, np.float64])
        if codes.shape[1] != self.network_.latent_dim:
            raise ValueError(f"generate expects codes with {self.network_.latent_dim} columns "
                             f"(latent_dim), got {codes.shape[1]}.")
        with np.errstate(over="ignore"):
            codes = np.asarray(codes, dtype=np.float32)
        if not np.isfinite(codes).all():
            raise ValueError("generate needs codes within float32's range (|z| < 3.4e38).")
        return self._decode_array(torch.from_numpy(codes))
