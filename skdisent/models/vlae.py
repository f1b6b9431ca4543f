"""VLAE: the variational ladder autoencoder with every level trained at once."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

from ._ladder import COMMON_PARAMETERS, LadderModel

__all__ = ["VLAE"]


class VLAE(LadderModel):
    __doc__ = """Variational ladder autoencoder (Zhao, Song and Ermon 2017).

    ``levels`` levels of ``latent_dim`` dimensions each, the deepest the most
    abstract, all trained from the first iteration. The loss is
    ``-E_q[log p(x | z)] + beta * sum_l KL(q(z_l | x) || N(0, I))``.

    Parameters
    ----------
    levels : int, default=3
        Number of levels of the ladder.
    latent_dim : int, default=3
        Latent dimensions per level.
    beta : float, default=1.0
        Weight of the KL terms.
    n_epochs : int, default=45
        Passes over the data (45: the pro-VLAE paper's 3 steps x 15 epochs).
    %s

    Attributes
    ----------
    network_ : LadderNetwork
        The trained torch module (on CPU after unpickling).
    n_components_ : int
        Total latent dimensions, ``levels * latent_dim``.
    latent_dims_ : tuple of int
        Latent dimensions per level, shallowest first.
    likelihood_ : {"bernoulli", "gaussian"}
        The observation model in use (what ``likelihood="auto"`` chose).
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``loss``, ``reconstruction``
        (negative log-likelihood per sample, nats), ``kl_<l>`` per level (level 1 the
        shallowest), ``time`` (seconds), ``images_per_s`` and ``threads`` (torch's CPU
        threads).
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
    ProVLAE : the same ladder grown progressively from its deepest level.
    BetaVAE : the same network with one level.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import VLAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = VLAE(levels=3, latent_dim=2, n_epochs=1, random_state=0).fit(X)
    >>> model.transform(X).shape
    (64, 6)
    """ % COMMON_PARAMETERS

    _parameter_constraints: dict = {
        **LadderModel._parameter_constraints,
        "levels": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        levels=3,
        latent_dim=3,
        *,
        beta=1.0,
        n_epochs=45,
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
        self.levels = levels
        self.latent_dim = latent_dim
        self.beta = beta
        self.n_epochs = n_epochs
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
        return (self.latent_dim,) * self.levels

    def _n_epochs_total(self):
        return self.n_epochs
