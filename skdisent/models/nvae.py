"""NVAE, the deep hierarchical VAE of Vahdat and Kautz (2020), as an estimator.

The network is in :mod:`skdisent.nn.nvae` (cells in :mod:`skdisent.nn.nvae_cells`,
distributions in :mod:`skdisent.nn.nvae_distributions`); the regime (KL warm-up, KL
balancing, learning-rate schedule) in :mod:`skdisent.models._nvae_regime`; the
parameter docs in :mod:`skdisent.models._nvae_docs`. The class docstring says which of
the reference code's choices are kept and which are scaled down or left out.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._data import INFERENCE_BATCH, stack_rows
from ..base import BaseDisentangler
from ..engine.device import autocast, resolve_device, with_threads
from ..engine.trainer import training_batches
from ..nn.nvae import NVAENetwork, groups_per_scale
from ..nn.nvae_cells import (
    FIRST_POWER_ITERATIONS,
    batchnorm_regularization,
    spectral_regularization,
)
from ..nn.nvae_distributions import mixture_channels
from ._ladder import LadderModel
from ._nvae_docs import NVAE_DOC
from ._nvae_regime import balanced_kl, kl_balance_weights, kl_coefficient, learning_rate
from ._posterior import GaussianPosterior
from ._step_information import information_record, step_posteriors

__all__ = ["NVAE"]

_POSITIVE = [Interval(Integral, 1, None, closed="left")]
#: Rows of every inference pass. oneDNN picks its 1x1-convolution kernel by the number of
#: rows, and kernels round differently: passes of one fixed size (the last padded with
#: repeated rows) make a row's code independent of the rows around it.
_INFERENCE_ROWS = 32


def _in_fixed_passes(function, x):
    """``function(x)`` computed ``_INFERENCE_ROWS`` rows at a time (a tensor or a tuple)."""
    results = []
    for start in range(0, len(x), _INFERENCE_ROWS):
        rows = torch.arange(start, start + _INFERENCE_ROWS, device=x.device)
        result = function(x[torch.clamp(rows, max=len(x) - 1)])
        results.append(result if isinstance(result, tuple) else (result,))
    n = len(x)
    joined = tuple(torch.cat(parts)[:n] for parts in zip(*results))
    return joined if len(joined) > 1 else joined[0]
_PORTION = [Interval(Real, 0, 1, closed="both")]


def _check_temperature(temperature):
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")


class NVAE(GaussianPosterior, BaseDisentangler):
    __doc__ = NVAE_DOC

    _network_class = NVAENetwork
    _fitted_attributes = (*BaseDisentangler._fitted_attributes, "latent_dims_", "n_components_",
                          "group_shapes_")

    _parameter_constraints: dict = {
        **BaseDisentangler._parameter_constraints,
        "n_scales": _POSITIVE, "groups_per_scale": _POSITIVE, "adaptive_groups": ["boolean"],
        "min_groups_per_scale": _POSITIVE, "latent_per_group": _POSITIVE,
        "channels": [Interval(Integral, 4, None, closed="left")],
        "cells_per_group": _POSITIVE, "process_blocks": _POSITIVE, "process_cells": _POSITIVE,
        "use_se": ["boolean"], "residual_posterior": ["boolean"],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian", "logistic_mixture"})],
        "n_mixtures": _POSITIVE,
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate_min": [Interval(Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "kl_anneal_portion": _PORTION, "kl_const_portion": _PORTION,
        "kl_const_coeff": [Interval(Real, 0, 1, closed="both")],
        "kl_balance": ["boolean"],
        "spectral_regularization": [Interval(Real, 0, None, closed="left")],
        "power_iterations": _POSITIVE,
        "information_rows": [Interval(Integral, 2, None, closed="left"), None],
        "information_every": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_scales=2, groups_per_scale=2, *, adaptive_groups=True,
                 min_groups_per_scale=1, latent_per_group=4, channels=16, cells_per_group=1,
                 process_blocks=2, process_cells=1, use_se=True, residual_posterior=True,
                 likelihood="auto", n_mixtures=10, beta=1.0, n_epochs=10, batch_size=32,
                 learning_rate=1e-2, learning_rate_min=1e-4, warmup_epochs=1,
                 weight_decay=3e-4, kl_anneal_portion=0.3, kl_const_portion=1e-4,
                 kl_const_coeff=1e-4, kl_balance=True, spectral_regularization=1e-2,
                 power_iterations=4, information_rows=512, information_every=1,
                 image_shape=None, device="auto", precision="fp32", compile=False,
                 warm_start=False, checkpoint_dir=None, checkpoint_every=1, on_nan="raise",
                 nan_lr_factor=0.5, max_nan_retries=3, n_threads=None, random_state=None,
                 verbose=0):
        self.n_scales = n_scales
        self.groups_per_scale = groups_per_scale
        self.adaptive_groups = adaptive_groups
        self.min_groups_per_scale = min_groups_per_scale
        self.latent_per_group = latent_per_group
        self.channels = channels
        self.cells_per_group = cells_per_group
        self.process_blocks = process_blocks
        self.process_cells = process_cells
        self.use_se = use_se
        self.residual_posterior = residual_posterior
        self.likelihood = likelihood
        self.n_mixtures = n_mixtures
        self.beta = beta
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_min = learning_rate_min
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.kl_anneal_portion = kl_anneal_portion
        self.kl_const_portion = kl_const_portion
        self.kl_const_coeff = kl_const_coeff
        self.kl_balance = kl_balance
        self.spectral_regularization = spectral_regularization
        self.power_iterations = power_iterations
        self.information_rows = information_rows
        self.information_every = information_every
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

    # ------------------------------------------------------------ the hooks

    def _validate_fit_inputs(self, layout, likelihood=None):
        if likelihood == "logistic_mixture":
            mixture_channels(layout.network_shape[0] if layout.is_image else 1, 1)
        return {}

    def _build_network(self, layout):
        return NVAENetwork(
            layout.network_shape, latent_per_group=self.latent_per_group,
            n_scales=self.n_scales, groups=self.groups_per_scale,
            adaptive_groups=self.adaptive_groups, min_groups=self.min_groups_per_scale,
            channels=self.channels, cells_per_group=self.cells_per_group,
            process_blocks=self.process_blocks, process_cells=self.process_cells,
            use_se=self.use_se, residual_posterior=self.residual_posterior,
            likelihood=self.likelihood_, n_mixtures=self.n_mixtures)

    def _initialize(self, layout, device, X, likelihood):
        super()._initialize(layout, device, X, likelihood)
        # what the reference sets from the weights, or draws, after PyTorch's defaults
        self.network_.initialize_(self._training.generator)

    def _fitted_from_network(self, network):
        shapes = tuple(tuple(int(d) for d in s) for s in reversed(network.group_shapes))
        dims = tuple(int(np.prod(s)) for s in shapes)
        return {"group_shapes_": shapes, "latent_dims_": dims, "n_components_": sum(dims),
                "likelihood_": network.likelihood_name}

    def _build_optimizers(self, network):
        return {"adamax": torch.optim.Adamax(network.parameters(), lr=self.learning_rate,
                                             weight_decay=self.weight_decay, eps=1e-3)}

    def _n_epochs_total(self):
        return self.n_epochs

    def _check_training_plan(self, n_samples):
        self._steps_per_epoch = len(training_batches(torch.arange(n_samples), self.batch_size))

    def _training_pass(self):
        """The network's training pass, compiled once when ``compile=True``.

        On the CPU without inductor's layout optimisation: with it, torch 2.13 generates
        a backward pass that frees a buffer of a 1x1 convolution's gradient before it
        is read (UnboundLocalError at the first step).
        """
        if next(self.network_.parameters()).device.type == "cpu":
            return self._compiled_function("forward-cpu", self.network_,
                                           options={"layout_optimization": False})
        return self._compiled_function("forward", self.network_)

    def _schedule_now(self):
        """KL coefficient and learning rate of the coming step."""
        per_epoch = self._steps_per_epoch
        step = self.n_steps_
        coefficient = kl_coefficient(step, self.n_epochs * per_epoch, self.kl_anneal_portion,
                                     self.kl_const_portion, self.kl_const_coeff)
        rate = learning_rate(step, self.n_iter_, base=self.learning_rate,
                             minimum=self.learning_rate_min,
                             warmup_steps=self.warmup_epochs * per_epoch,
                             warmup_epochs=self.warmup_epochs, n_epochs=self.n_epochs)
        return coefficient, rate * self._training.lr_scale

    def _train_batch(self, x, trainer):
        network, device = self.network_, x.device
        coefficient, rate = self._schedule_now()
        for group in self._training.optimizers["adamax"].param_groups:
            group["lr"] = rate
        noise = self._draw_noise(len(x), self._training.noise_generator, device)
        log_likelihood, kl = self._training_pass()(x, noise)
        alpha = kl_balance_weights(self._groups_per_scale()).to(device)
        kl_part, weights = balanced_kl(kl, coefficient, alpha, self.kl_balance)
        loss = (self.beta * kl_part - log_likelihood).mean()
        regularization = torch.zeros((), device=device)
        if self.spectral_regularization > 0:
            iterations = FIRST_POWER_ITERATIONS if self.n_steps_ == 0 else self.power_iterations
            regularization = (spectral_regularization(network.convolutions(), iterations)
                              + batchnorm_regularization(network.batch_norms()))
            loss = loss + self.spectral_regularization * regularization
        trainer.optimize(loss, "adamax")
        reconstruction = -log_likelihood.mean()
        kl_per_group = kl.mean(dim=0).flip(0)  # numbered from the data up
        return {"loss": loss, "reconstruction": reconstruction,
                "nelbo": reconstruction + kl_per_group.sum(), "kl": kl_per_group,
                "kl_weight": weights.flip(0), "kl_coefficient": torch.tensor(coefficient),
                "learning_rate": torch.tensor(rate), "regularization": regularization}

    def _epoch_record(self, data, device):
        every = self.information_every
        if not every or self.n_iter_ % every:
            return {}
        means, logvars = step_posteriors(self, data, device)
        return information_record(means, logvars, self.level_slices(),
                                  slice(0, self.n_components_), self.levels_)

    # ----------------------------------------------------------- groups

    def _groups_per_scale(self):
        return groups_per_scale(self.network_.settings["n_scales"],
                                self.network_.settings["groups"],
                                self.network_.settings["adaptive_groups"],
                                self.network_.settings["min_groups"])

    def _draw_noise(self, n, generator, device):
        """Standard normal noise of every group, generation order (the top group first)."""
        return [torch.randn((n, *shape), generator=generator, device=device)
                for shape in self.network_.group_shapes]

    def _columns(self, tensors):
        """Per-group tensors in generation order -> ``(n, n_components_)``, from the data up."""
        return torch.cat([t.flatten(1) for t in reversed(tensors)], dim=1)

    def _groups(self, columns):
        """The inverse of :meth:`_columns`."""
        parts = torch.split(columns, list(self.latent_dims_), dim=1)
        return [p.reshape(len(p), *shape) for p, shape in
                zip(reversed(parts), reversed(self.group_shapes_))]

    # The ladder's, which read latent_dims_ only: the number of groups, and the column
    # slice of each group, from the data up (as the ladder's levels, shallowest first).
    levels_ = LadderModel.levels_
    level_slices = LadderModel.level_slices

    def _feature_names(self):
        counts = self._groups_per_scale()  # finest first, as the columns
        names, column_group = [], 0
        for scale, count in enumerate(counts):
            for group in range(count):
                dim = self.latent_dims_[column_group]
                names += [f"scale{scale + 1}_group{group + 1}_z{j}" for j in range(dim)]
                column_group += 1
        return names

    # ------------------------------------------------------- public methods

    def _posterior_columns(self, x):
        means, logvars = self.network_.posterior_parameters(x)
        return self._columns(means), self._columns(logvars)

    def _encode(self, x):
        return _in_fixed_passes(lambda rows: self._posterior_columns(rows)[0], x)

    def _posterior_function(self, device):
        return lambda x: _in_fixed_passes(self._posterior_columns, x)

    def _decode(self, codes):
        def decode(rows):
            output = self.network_.decode(self._groups(rows))
            return self.network_.likelihood.mean(output.float())

        return _in_fixed_passes(decode, codes)

    def _score_batch(self, x, generator):
        """The ELBO of each sample, from one draw of every group."""
        noise = self._draw_noise(len(x), generator, x.device)
        log_likelihood, kl = self.network_(x, noise)
        return log_likelihood - kl.sum(dim=1)

    def _sample_codes(self, n_samples, generator, temperature=1.0):
        _check_temperature(temperature)
        noise = torch.randn((n_samples, self.n_components_), generator=generator)
        return torch.from_numpy(self._codes_of_noise(noise, float(temperature)))

    @with_threads
    def sample(self, n_samples=1, random_state=None, *, temperature=1.0):
        """Generate data by ancestral sampling from the top-down prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the prior.
        temperature : float, default=1.0
            Multiplies the standard deviation of every group's prior (the reference
            samples at 0.7 to 1.0); lower gives smoother, more typical images.

        Returns
        -------
        X : ndarray of shape ``(n_samples, *input_shape_)``, dtype float32
            The likelihood's mean for each draw, in the layout ``fit`` was given.
        """
        return self._sample(n_samples, random_state, temperature=temperature)

    @with_threads
    def codes_from_noise(self, noise, temperature=1.0):
        """Codes of ancestral sampling from given standard normal noise.

        Down the groups from the top: ``z_g = mu_p(z_>g) + t * sigma_p(z_>g) * eps_g``
        (the top group's prior is the reference's ``N(0, 1.01^2)``). Drawing one
        group's ``eps`` again and holding the others is the picture of
        :func:`skdisent.hierarchy.layer_variation`.

        Parameters
        ----------
        noise : array-like of shape ``(n_samples, n_components_)``
            ``eps`` of every group, in the columns of :meth:`transform`.
        temperature : float, default=1.0
            Multiplies every prior standard deviation.

        Returns
        -------
        codes : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            :meth:`inverse_transform` decodes them.
        """
        check_is_fitted(self, "network_")
        _check_temperature(temperature)
        noise = check_array(noise, dtype=[np.float32, np.float64])
        if noise.shape[1] != self.n_components_:
            raise ValueError(f"codes_from_noise expects {self.n_components_} columns "
                             f"(n_components_), got {noise.shape[1]}.")
        noise = torch.from_numpy(np.asarray(noise, dtype=np.float32))
        return self._codes_of_noise(noise, float(temperature))

    def _codes_of_noise(self, noise, temperature):
        device = resolve_device(self.device, fallback=True)
        self.network_.to(device)
        self.network_.eval()

        def codes(chunk):
            zs = self.network_.prior_codes(self._groups(chunk.to(device)), temperature)
            return self._columns(zs)

        with torch.no_grad(), autocast(device, self.precision):
            return stack_rows((codes(c) for c in torch.split(noise, INFERENCE_BATCH)), len(noise))
