"""beta-VAE: the ladder network with every latent dimension at its deepest level."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

from ._ladder import COMMON_PARAMETERS, LadderModel

__all__ = ["BetaVAE"]


class BetaVAE(LadderModel):
    __doc__ = """beta-VAE (Higgins et al. 2017) on the ladder network.

    The same network as :class:`VLAE` and :class:`ProVLAE`, with one level: the
    encoder trunk has ``depth`` stride-2 stages, and all ``n_components`` latent
    dimensions are read from the deepest one. This is the beta-VAE of the pro-VLAE
    paper's fair comparison (same network, same number of latents, same iterations).

    The loss is ``-E_q[log p(x | z)] + beta * KL(q(z | x) || N(0, I))``.

    Parameters
    ----------
    n_components : int, default=10
        Number of latent dimensions.
    beta : float, default=4.0
        Weight of the KL term (4 is Higgins et al.'s value on dSprites; 1 is a VAE).
    n_epochs : int, default=45
        Passes over the data (45: the pro-VLAE paper's 3 steps x 15 epochs).
    depth : int, default=3
        Number of stride-2 stages before the latent head.
    %s

    Attributes
    ----------
    network_ : LadderNetwork
        The trained torch module (on CPU after unpickling).
    n_components_ : int
        Number of latent dimensions.
    latent_dims_ : tuple of int
        Latent dimensions per level, shallowest first (zeros but the last).
    likelihood_ : {"bernoulli", "gaussian"}
        The observation model in use (what ``likelihood="auto"`` chose).
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``loss``, ``reconstruction``
        (negative log-likelihood per sample, nats), ``kl_<l>`` per level, ``time``
        (seconds), ``images_per_s`` and ``threads`` (torch's CPU threads).
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of optimisation steps run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one sample seen in ``fit``.

    See Also
    --------
    VLAE : every level of the ladder trained at once.
    ProVLAE : the ladder grown progressively from its deepest level.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import BetaVAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = BetaVAE(n_components=4, n_epochs=1, random_state=0).fit(X)
    >>> model.transform(X).shape
    (64, 4)
    """ % COMMON_PARAMETERS

    _parameter_constraints: dict = {
        **LadderModel._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "depth": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=10,
        *,
        beta=4.0,
        n_epochs=45,
        depth=3,
        likelihood="auto",
        batch_size=128,
        learning_rate=5e-4,
        conv_channels=32,
        architecture="vlae",
        dense_units=256,
        normalization="affine",
        initialization="torch",
        image_shape=None,
        device="auto",
        precision="fp32",
        compile=False,
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
        self.n_components = n_components
        self.beta = beta
        self.n_epochs = n_epochs
        self.depth = depth
        self.likelihood = likelihood
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.conv_channels = conv_channels
        self.architecture = architecture
        self.dense_units = dense_units
        self.normalization = normalization
        self.initialization = initialization
        self.image_shape = image_shape
        self.device = device
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.on_nan = on_nan
        self.nan_lr_factor = nan_lr_factor
        self.max_nan_retries = max_nan_retries
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _latent_dims(self):
        return (0,) * (self.depth - 1) + (self.n_components,)

    def _n_epochs_total(self):
        return self.n_epochs
