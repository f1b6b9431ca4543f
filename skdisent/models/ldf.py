"""LDF: locally disentangled factors, a two-level adversarially learned inference model.

The training regime of papers/001 (METHOD.md section 4): objects are cut into pieces,
one lower-level ALI shared by every piece learns local codes, an upper-level ALI
learns the joint distribution of an object's local codes from a global code, and the
two levels are trained on their own objectives with their own optimisers. The networks
are in :mod:`skdisent.nn.ali` and :mod:`skdisent.nn.ldf_network`, the cutting in
:mod:`skdisent.nn.pieces`, the training step in :mod:`._ldf_training`.
"""

from numbers import Integral, Real

import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._data import InputLayout
from .._warn import warn
from ..base import BaseDisentangler
from ..engine.optim import fused_adam
from ..nn.ldf_network import LDFNetwork
from ..nn.pieces import make_piece_grid
from ._extra_pieces import ObjectsWithPieces, piece_source
from ._ldf_training import ali_update, train_batch

__all__ = ["LDFModel"]


class LDFModel(BaseDisentangler):
    """Locally disentangled factors (LDF): hierarchical adversarially learned inference.

    The model of "Learning generative models with locally disentangled latent factors"
    (papers/001; METHOD.md section 4). An object is cut into local *pieces*: an image
    into a ``patch_grid`` of patches (32x32 into four 16x16 patches by default), a video
    ``(n, T, C, H, W)`` into its ``T`` frames.

    - The **lower level** is one ALI/BiGAN triple shared by every piece: an encoder
      ``z_i = E(x_i)``, a generator ``x_i = G(z_i)`` and a discriminator ``D(x_i, z_i)``
      that tells encoder pairs from generator pairs with ``z_i ~ N(0, I)``, plus the
      reconstruction penalties ``x_i -> z_i -> x_i`` and the *shortcut* reconstruction
      through the encoder's last hidden layer.
    - The **upper level** is an ALI over all local codes of an object: a generator from
      a global code ``z_0 ~ N(0, I)`` to ``(z_1, ..., z_P)``, an encoder back, and a
      discriminator on ``(z_0, z_1..z_P)``, with the same penalties. It learns how the
      pieces depend on each other, in latent space.
    - Every discriminator carries the gradient-norm regulariser of Roth et al. (2017).

    Training is decoupled, as the paper claims: each level has its own objective and its
    own optimisers (Adam, ``betas=(0.5, 0.999)``), the upper level trains on the lower
    encoder's codes as fixed data, and no gradient crosses from one level into the
    other. Each step takes ``batch_size`` objects: the lower level trains on all of
    their pieces (and, if ``fit`` got extra ``pieces``, on as many of those), shuffled
    and ``lower_batch_size`` pieces at a time, so its memory follows the size of a piece
    and not of the object; the upper level then trains on the local codes the lower
    encoder gave the objects' pieces in those updates.

    Parameters
    ----------
    patch_grid : tuple of (int, int), default=(2, 2)
        ``(rows, cols)`` of the patches an image is cut into; they must divide its
        height and width. Videos are cut into their frames and do not use it. Flat rows
        without ``image_shape`` are cut into ``rows * cols`` contiguous blocks of
        ``ceil(n_features / (rows * cols))`` features, the last zero-padded.
    local_dim : int, default=16
        Dimension of each piece's code.
    global_dim : int, default=32
        Dimension of the global code.
    representation : {"global", "local"}, default="global"
        What :meth:`transform` returns and :meth:`inverse_transform` reads: the global
        code ``(n, global_dim)`` or the local codes of every piece concatenated,
        ``(n, n_pieces_ * local_dim)``. It can be changed after ``fit``.
    n_epochs : int, default=50
        Passes over the full objects.
    pretrain_lower : int, default=0
        The first ``pretrain_lower`` epochs train the lower level only (the paper's
        "pre-trained lower level"); the upper level trains in the others.
    gradient_penalty : float, default=1.0
        ``gamma`` of the Roth et al. regulariser on both discriminators; 0 turns it off.
    reconstruction_weight : float, default=1.0
        Weight of the mean per-feature reconstruction error ``x -> z -> x`` in the
        loss of each level's encoder and generator.
    shortcut_weight : float, default=1.0
        Weight of the shortcut reconstruction error, likewise.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        ``"bernoulli"``: the generator outputs logits, data are probabilities in [0, 1]
        (or uint8), errors are cross-entropies. ``"gaussian"``: any real values, errors
        are half squared errors. ``"auto"``: Bernoulli for uint8 data or data within
        [0, 1], Gaussian otherwise (kept in ``likelihood_``).
    batch_size : int, default=64
        Objects per step.
    lower_batch_size : int, "all" or None, default=None
        Pieces per lower-level update; None: ``batch_size``, so a step of ``P`` pieces
        per object makes ``P`` lower-level updates (``2 P`` with extra ``pieces``).
        ``"all"``: one update on all of the step's pieces, ``P`` times fewer and ``P``
        times larger updates: an epoch takes less time (fewer passes, larger matrix
        products), but the lower level makes fewer optimiser steps per epoch and its
        memory grows with the step's pieces.
    learning_rate : float, default=5e-4
        Adam's learning rate for all four optimisers.
    conv_channels : int, default=32
        Channels of the first convolution of the piece networks; each further stride-2
        layer doubles them.
    dense_units : int, default=256
        Width of the hidden dense layers of both levels.
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
        Folder that receives a model file ``epoch-<n>.safetensors`` every
        ``checkpoint_every`` epochs, at the end of the fit and when it is
        interrupted (the newest two are kept); see :func:`skdisent.load_checkpoint`.
    checkpoint_every : int, default=1
        Epochs between checkpoints when ``checkpoint_dir`` is set.
    on_nan : {"raise", "reduce_lr"}, default="raise"
        After a NaN or infinite loss: stop with :class:`~skdisent.NonFiniteLossError`
        at the last completed epoch, or run that epoch again with every learning rate
        times ``nan_lr_factor``, at most ``max_nan_retries`` times over the model's training.
    nan_lr_factor : float, default=0.5
        Factor in (0, 1) applied to the learning rates at each retry.
    max_nan_retries : int, default=3
        Retries allowed with ``on_nan="reduce_lr"``.
    n_threads : int or None, default=None
        Torch CPU threads; None: all CPUs but one (see :class:`~skdisent.VLAE`).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the prior draws: a CPU fit with an
        int is repeatable bit for bit on the same CPU, torch version and number of torch
        threads (recorded in ``history_`` as ``threads``).
    verbose : int, default=0
        Print one line per epoch when positive.

    Attributes
    ----------
    network_ : LDFNetwork
        The trained torch modules: ``network_.lower`` and ``network_.upper`` (on CPU
        after unpickling).
    n_components_ : int
        Columns of :meth:`transform` for the current ``representation``.
    likelihood_ : {"bernoulli", "gaussian"}
        The lower level's observation model (what ``likelihood="auto"`` chose).
    n_pieces_ : int
        Pieces per object (patches, frames or blocks).
    piece_shape_ : tuple of int
        Shape of one piece, as extra ``pieces`` given to ``fit`` must have it.
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``trains_upper``, and per level
        (``lower_`` and ``upper_``) ``discriminator`` (its loss), ``penalty`` (the Roth
        et al. regulariser), ``adversarial`` (the encoder and generator's loss),
        ``reconstruction`` and ``shortcut`` (mean per-feature errors); then ``time``
        (seconds), ``images_per_s`` (objects per second) and ``threads`` (torch's CPU
        threads).
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of steps run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one object seen in ``fit``.

    See Also
    --------
    ProVLAE : a hierarchical model whose levels are abstract, not local.

    References
    ----------
    .. [1] "Learning generative models with locally disentangled latent factors",
       under review (papers/001 of this project).
    .. [2] V. Dumoulin et al., "Adversarially learned inference", ICLR 2017.
    .. [3] K. Roth, A. Lucchi, S. Nowozin and T. Hofmann, "Stabilizing training of
       generative adversarial networks through regularization", NeurIPS 2017.

    Examples
    --------
    >>> from skdisent import LDFModel
    >>> from skdisent.datasets import make_moving_sprites
    >>> videos = make_moving_sprites(n_samples=32, size=16, random_state=0).videos
    >>> model = LDFModel(local_dim=4, global_dim=8, n_epochs=1, batch_size=16,
    ...                  conv_channels=4, dense_units=16, random_state=0).fit(videos)
    >>> model.transform(videos).shape, model.n_pieces_
    ((32, 8), 5)
    >>> model.sample(2, random_state=0).shape
    (2, 5, 3, 16, 16)
    """

    _network_class = LDFNetwork
    _fitted_attributes = (*BaseDisentangler._fitted_attributes, "n_pieces_", "piece_shape_")

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseDisentangler._parameter_constraints.items() if k != "compile"},
        "patch_grid": [tuple, list],
        "local_dim": [Interval(Integral, 1, None, closed="left")],
        "global_dim": [Interval(Integral, 1, None, closed="left")],
        "representation": [StrOptions({"global", "local"})],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "pretrain_lower": [Interval(Integral, 0, None, closed="left")],
        "gradient_penalty": [Interval(Real, 0, None, closed="left")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "shortcut_weight": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "lower_batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"all"}),
                             None],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        patch_grid=(2, 2),
        local_dim=16,
        global_dim=32,
        *,
        representation="global",
        n_epochs=50,
        pretrain_lower=0,
        gradient_penalty=1.0,
        reconstruction_weight=1.0,
        shortcut_weight=1.0,
        likelihood="auto",
        batch_size=64,
        lower_batch_size=None,
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
        self.patch_grid = patch_grid
        self.local_dim = local_dim
        self.global_dim = global_dim
        self.representation = representation
        self.n_epochs = n_epochs
        self.pretrain_lower = pretrain_lower
        self.gradient_penalty = gradient_penalty
        self.reconstruction_weight = reconstruction_weight
        self.shortcut_weight = shortcut_weight
        self.likelihood = likelihood
        self.batch_size = batch_size
        self.lower_batch_size = lower_batch_size
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
    def fit(self, X, y=None, pieces=None):
        """Fit both levels to the objects ``X`` and, optionally, extra single pieces.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, C, H, W), (n_samples, C, H, W), (n_samples, H, W) or (n_samples, n_features)
            Full objects: videos (at least 2 frames), images, or flat rows (read as
            images when ``image_shape`` is set). ``uint8`` is read as 0..255.
        y : Ignored
            Accepted so that factors or labels can ride along in pipelines.
        pieces : array-like of shape ``(n_pieces, *piece_shape_)``, default=None
            Extra single pieces (frames of videos, or patches) with no full object
            around them. They train the lower level only: each step it also takes as
            many of them as the step's objects have pieces, in turn (the paper's
            few-joint-samples setting: all frames, few full videos).

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, pieces=pieces)

    def _input_layout(self, X):
        """Images and rows as in the base class, plus videos; checks how they are cut."""
        if X.ndim > 5:
            raise ValueError(
                f"X must be videos (n_samples, T, C, H, W), images (n_samples, C, H, W) or "
                f"(n_samples, H, W), or flat rows; got {X.ndim} dimensions, shape {X.shape}."
            )
        if X.ndim == 5:
            if self.image_shape is not None:
                raise ValueError("image_shape is for flat rows only; leave it None for videos.")
            layout = InputLayout(tuple(X.shape[1:]), tuple(X.shape[1:]))
        else:
            layout = super()._input_layout(X)
        make_piece_grid(layout.network_shape, self.patch_grid)  # refuses a grid that does not fit
        return layout

    def _validate_fit_inputs(self, layout, likelihood=None, pieces=None):
        if pieces is None:
            return {"pieces": None}
        grid = make_piece_grid(layout.network_shape, self.patch_grid)
        return {"pieces": piece_source(pieces, grid, likelihood)}

    def _training_data(self, source, pieces=None):
        if pieces is None:
            return source
        return ObjectsWithPieces(source, pieces, self.n_pieces_, self._training.generator)

    def _fitted_from_network(self, network):
        return {"n_pieces_": network.pieces.n_pieces, "piece_shape_": network.pieces.piece_shape,
                "likelihood_": network.lower.likelihood}

    def _n_epochs_total(self):
        return self.n_epochs

    def _check_training_plan(self, n_samples):
        if self.pretrain_lower >= self.n_epochs > 0:
            warn(f"pretrain_lower={self.pretrain_lower} is not less than n_epochs={self.n_epochs}: "
                 "the upper level never trains, so transform (global codes) and sample give "
                 "untrained results.")

    def _build_network(self, layout):
        return LDFNetwork(layout.network_shape, self.patch_grid, self.local_dim, self.global_dim,
                          self.conv_channels, self.dense_units, self.likelihood_)

    def _build_optimizers(self, network):
        def adam(parameters):
            return fused_adam(parameters, lr=self.learning_rate, betas=(0.5, 0.999))

        return {
            f"{name}_{part}": adam(parameters)
            for name, level in (("lower", network.lower), ("upper", network.upper))
            for part, parameters in (("generator", level.encoder_parameters()),
                                     ("discriminator", level.discriminator.parameters()))
        }

    # --------------------------------------------------------- training step

    def _train_batch(self, batch, trainer):
        return train_batch(self, batch, trainer)

    def _trains_upper(self):
        return self.n_iter_ >= self.pretrain_lower

    def _ali_update(self, level, x, trainer):
        """One update of a level's discriminator, then of its encoder and generator."""
        return ali_update(self, level, x, trainer)

    def _epoch_record(self, data, device):
        return {"trains_upper": self.n_iter_ - 1 >= self.pretrain_lower}

    # ------------------------------------------------------- public methods

    @property
    def n_components_(self):
        """Columns of :meth:`transform` for the current ``representation``."""
        network = self.network_
        if self.representation == "global":
            return network.global_dim
        return network.pieces.n_pieces * network.local_dim

    def _encode(self, x):
        codes = self.network_.local_codes(x)
        return self.network_.upper.encode(codes) if self.representation == "global" else codes

    def _local_codes(self, codes):
        """Local codes from codes of the current representation."""
        return codes if self.representation == "local" else self.network_.global_to_local(codes)

    def _decode(self, codes):
        return self.network_.decode_local(self._local_codes(codes))

    def _sample_codes(self, n_samples, generator):
        """Global codes from the prior, mapped to local codes when those are decoded."""
        z = torch.randn(n_samples, self.network_.global_dim, generator=generator)
        if self.representation == "global":
            return z
        device = next(self.network_.parameters()).device
        with torch.no_grad():
            return self.network_.global_to_local(z.to(device)).float().cpu()

    def score(self, X, y=None):
        """Minus the mean reconstruction error per object; higher is better.

        ALI has no likelihood bound, so this takes the place of the ladder models'
        ELBO: each object goes through :meth:`transform` and back through
        :meth:`inverse_transform` in the current ``representation``, and the error is
        summed over its features (cross-entropy in nats for a Bernoulli likelihood,
        half the squared error for a Gaussian one). With ``representation="global"``
        it tests both levels.

        Parameters
        ----------
        X : array-like, in the layout and sample shape of ``fit``'s ``X``
            Objects to reconstruct.
        y : Ignored

        Returns
        -------
        score : float
            Minus the mean reconstruction error per object.
        """
        return super().score(X, y)

    def _score_batch(self, x, generator):
        """Minus each object's reconstruction error (no noise is drawn)."""
        network = self.network_
        output = network.reconstruction_logits(self._local_codes(self._encode(x)))
        return -network.lower.reconstruction_error(output, x).sum(dim=1)

    def _feature_names(self):
        network = self.network_
        if self.representation == "global":
            return [f"global_z{j}" for j in range(network.global_dim)]
        return [f"{piece}_z{j}" for piece in network.pieces.piece_names()
                for j in range(network.local_dim)]
