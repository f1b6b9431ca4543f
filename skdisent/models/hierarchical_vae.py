"""The stacked hierarchical VAE with Gaussian conditionals (Zhao, Song and Ermon 2017, section 3).

The model whose failure motivates the ladder: a chain of Gaussian latent layers trained
with the ELBO. The network is in :mod:`skdisent.nn.hierarchical`; this file is the
training regime (the beta-weighted ELBO, Adam) and the public methods. The paper's two
diagnostics are in :mod:`skdisent.hierarchy`.
"""

import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._data import INFERENCE_BATCH, stack_rows
from ..base import BaseDisentangler
from ..engine.device import autocast, resolve_device, with_threads
from ..engine.optim import fused_adam
from ..nn.hierarchical import HierarchicalNetwork
from ..nn.layers import NORMALIZATIONS
from ._ladder import COMMON_PARAMETERS, LadderModel
from ._posterior import GaussianPosterior

__all__ = ["POSTERIOR_DRAWS", "HierarchicalVAE"]

#: Chains per row behind the means and variances of ``q(z_l | x)`` above the bottom layer.
POSTERIOR_DRAWS = 32
#: Seed of the draws those chains share (the same for every row and every call).
_POSTERIOR_SEED = 0

_CONV_CHANNELS = """\
conv_channels : int or tuple of int, default=32
        Channels of every convolution between ``x`` and ``z_1`` (images), or one width
        per stage, shallowest first (``levels`` stages, as the ladder's)."""


def _parameters_doc():
    """The ladder models' shared parameter docs, without ``architecture`` (a ladder's choice)."""
    text = re.sub(r"\n    architecture : .*?(?=\n    dense_units :)", "", COMMON_PARAMETERS,
                  flags=re.DOTALL)
    return re.sub(r"\n    conv_channels : .*?(?=\n    dense_units :)",
                  "\n    " + _CONV_CHANNELS, text, flags=re.DOTALL)


class HierarchicalVAE(GaussianPosterior, BaseDisentangler):
    __doc__ = """Stacked hierarchical VAE with Gaussian conditionals (Zhao, Song and Ermon 2017).

    Latent layers ``z_1 .. z_L`` (``L = levels``, ``z_1`` the bottom, nearest the
    data), ``latent_dim`` dimensions each. Generation runs down a chain,
    ``p(z_L) = N(0, I)``, ``p(z_l | z_{l+1}) = N(mu_l(z_{l+1}), diag sigma_l^2(z_{l+1}))``
    with learned means and variances, and ``p(x | z_1)``; inference runs up one,
    ``q(z_1 | x)`` and ``q(z_{l+1} | z_l)``, diagonal Gaussians. The loss is the
    negative ELBO, ``-E_q[log p(x | z_1)] + beta * E_q[log q(z | x) - log p(z)]``, with
    one reparameterised draw of the whole chain per sample.

    Zhao et al. argue that such a hierarchy, trained to optimality, learns no
    meaningful upper layers: a Gibbs chain on the bottom layer alone recovers the data
    distribution, and the Gaussian conditionals limit what the upper layers can hold.
    :mod:`skdisent.hierarchy` has both diagnostics for a fitted model. With the same
    ``levels``, ``latent_dim`` and ``n_epochs`` it has the latents and iterations of
    a :class:`VLAE`.

    Choices the paper leaves open, made here:

    - Architecture: ``x <-> z_1`` is the network of a :class:`BetaVAE` of depth
      ``levels`` (the ladder's ``levels`` stride-2 convolutions, head and decoder),
      so the convolutions equal those of a ladder with as many levels; each
      conditional between latent layers (both directions) has two hidden dense layers
      of ``dense_units`` (activation and normalisation as in the ladder), then a
      linear layer to a mean and a log-variance, as the dense ladder blocks of the
      VLAE authors' code.
    - KL per layer (``kl_<l>`` in ``history_``): for ``l < L``, ``E_q[log q(z_l |
      z_{l-1}) - log p(z_l | z_{l+1})]``, its first part in closed form (minus the
      entropy of a Gaussian), its second at the draws; for the top layer, ``KL(q(z_L |
      z_{L-1}) || N(0, I))`` in closed form. They sum to the ELBO's KL term; a single
      layer's value may be negative.
    - ``transform`` and ``posterior``: ``q(z_1 | x)`` is Gaussian and exact; above it
      ``q(z_l | x)`` is a continuous mixture, summarised by its mean and variance,
      estimated from ``POSTERIOR_DRAWS`` (32) chains per row whose noise is the same
      fixed draw for every row and call, so that the result is deterministic and a
      row's code does not depend on the other rows. ``posterior`` thus returns the
      moments of a Gaussian that has at least the entropy of ``q(z_l | x)``, and
      :func:`skdisent.evaluation.information_per_level` on it underestimates ``I(x;
      z_l)`` for ``l > 1`` rather than overestimating it.
    - ``inverse_transform`` decodes the columns of ``z_1`` (``p(x | z_1)``'s mean)
      and ignores the others: ``x`` depends on ``z_1`` alone. ``sample`` is ancestral,
      down the whole chain.

    Parameters
    ----------
    levels : int, default=3
        Number of latent layers ``L`` (and of stride-2 convolutions between ``x`` and
        ``z_1``).
    latent_dim : int, default=3
        Latent dimensions per layer.
    beta : float, default=1.0
        Weight of the KL term (1: the ELBO the paper trains).
    n_epochs : int, default=45
        Passes over the data.
    %s

    Attributes
    ----------
    network_ : HierarchicalNetwork
        The trained torch module (on CPU after unpickling).
    n_components_ : int
        Total latent dimensions, ``levels * latent_dim``.
    latent_dims_ : tuple of int
        Latent dimensions per layer, bottom first.
    likelihood_ : {"bernoulli", "gaussian"}
        The observation model in use (what ``likelihood="auto"`` chose).
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``loss``, ``reconstruction``
        (negative log-likelihood per sample, nats), ``kl_<l>`` per layer (layer 1 the
        bottom), ``time`` (seconds), ``images_per_s`` and ``threads``.
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
    VLAE : the ladder the same authors propose instead: no hierarchy among the latents,
        depth in the networks.
    skdisent.hierarchy.bottom_layer_gibbs : the Gibbs chain on the bottom layer.
    skdisent.hierarchy.layer_variation : what each layer's noise changes.

    References
    ----------
    Zhao, Song and Ermon, "Learning Hierarchical Features from Deep Generative Models",
    ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import HierarchicalVAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = HierarchicalVAE(levels=3, latent_dim=2, n_epochs=1, random_state=0).fit(X)
    >>> model.transform(X).shape
    (64, 6)
    """ % _parameters_doc()

    _network_class = HierarchicalNetwork
    _fitted_attributes = (*BaseDisentangler._fitted_attributes, "latent_dims_", "n_components_")

    _parameter_constraints: dict = {
        **BaseDisentangler._parameter_constraints,
        "levels": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "conv_channels": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "normalization": [StrOptions(set(NORMALIZATIONS))],
        "initialization": [StrOptions({"torch", "glorot"})],
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

    # ------------------------------------------------------------ training

    def _build_network(self, layout):
        return HierarchicalNetwork(
            layout.network_shape,
            (self.latent_dim,) * self.levels,
            conv_channels=self.conv_channels,
            dense_units=self.dense_units,
            likelihood=self.likelihood_,
            channels_last=True,
            normalization=self.normalization,
        )

    def _build_optimizers(self, network):
        return {"adam": fused_adam(network.parameters(), lr=self.learning_rate)}

    def _n_epochs_total(self):
        return self.n_epochs

    def _train_batch(self, x, trainer):
        noise = self.network_.draw_noise(len(x), self._training.noise_generator, x.device)
        log_likelihood, kl = self._compiled_function("forward", self.network_)(x, noise)
        reconstruction = -log_likelihood.mean()
        kl_per_layer = kl.mean(dim=0)
        loss = reconstruction + float(self.beta) * kl_per_layer.sum()
        trainer.optimize(loss, "adam")
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl_per_layer}

    _fitted_from_network = LadderModel._fitted_from_network

    # ------------------------------------------------------- public methods

    def _posterior_noise(self, device):
        generator = torch.Generator().manual_seed(_POSTERIOR_SEED)
        noise = [torch.randn((POSTERIOR_DRAWS, d), generator=generator)
                 for d in self.latent_dims_[:-1]]
        return [n.to(device) for n in noise]

    def _encode(self, x):
        means, _ = self.network_.posterior_moments(x, self._posterior_noise(x.device))
        return torch.cat(means, dim=1)

    def _posterior_function(self, device):
        # Above the bottom layer, the mean and variance of q(z_l | x) estimated from
        # POSTERIOR_DRAWS chains that share one noise draw (see the class docstring).
        noise = self._posterior_noise(device)

        def parameters(x):
            means, logvars = self.network_.posterior_moments(x, noise)
            return torch.cat(means, dim=1), torch.cat(logvars, dim=1)

        return parameters

    def _decode(self, codes):
        output = self.network_.decode(codes[:, : self.latent_dims_[0]])
        return self.network_.likelihood.mean(output.float())

    def _score_batch(self, x, generator):
        """The ELBO of each sample (``beta=1``), from one draw of the inference chain."""
        noise = self.network_.draw_noise(len(x), generator, x.device)
        log_likelihood, kl = self.network_(x, noise)
        return log_likelihood - kl.sum(dim=1)

    def _sample_codes(self, n_samples, generator):
        noise = torch.randn(n_samples, self.n_components_, generator=generator)
        return torch.from_numpy(self._codes_of_noise(noise))

    @with_threads
    def codes_from_noise(self, noise):
        """Codes of ancestral sampling from given standard normal noise.

        ``z_L = eps_L`` and ``z_l = mu_l(z_{l+1}) + sigma_l(z_{l+1}) * eps_l`` down the
        chain: the noise of the paper's Fig. 3, where one layer's ``eps`` is drawn
        again while the others are held. :meth:`sample` decodes such codes from fresh
        noise.

        Parameters
        ----------
        noise : array-like of shape ``(n_samples, n_components_)``
            ``eps`` of every layer, bottom first (the columns of :meth:`transform`).

        Returns
        -------
        codes : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            ``z_1 .. z_L``, bottom first; :meth:`inverse_transform` decodes them.
        """
        check_is_fitted(self, "network_")
        noise = check_array(noise, dtype=[np.float32, np.float64])
        if noise.shape[1] != self.n_components_:
            raise ValueError(f"codes_from_noise expects {self.n_components_} columns "
                             f"(n_components_), got {noise.shape[1]}.")
        return self._codes_of_noise(torch.from_numpy(np.asarray(noise, dtype=np.float32)))

    def _codes_of_noise(self, noise):
        device = resolve_device(self.device, fallback=True)
        self.network_.to(device)
        self.network_.eval()

        def codes(chunk):
            eps = list(torch.split(chunk.to(device), list(self.latent_dims_), dim=1))
            return torch.cat(self.network_.codes_from_noise(eps), dim=1)

        with torch.no_grad(), autocast(device, self.precision):
            return stack_rows((codes(c) for c in torch.split(noise, INFERENCE_BATCH)), len(noise))

    # The ladder's, which read latent_dims_ only: names "level<l>_z<j>", the number of
    # layers, and the column slice of each layer (bottom first, as the ladder's shallowest).
    _feature_names = LadderModel._feature_names
    levels_ = LadderModel.levels_
    level_slices = LadderModel.level_slices
