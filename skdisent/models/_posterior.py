"""``posterior(X)``: the Gaussian posterior's means and log-variances, batch by batch.

Shared by the models whose codes have a Gaussian posterior (the ladder models,
``HierarchicalVAE``, ``TeacherStudentVAE``, ``NVAE``). A model says how one batch is encoded with
``_posterior_function(device)``; this runs it over ``X`` as ``transform`` runs the encoder
(no gradient, the model's precision, short batches padded) and over the rows of the
step-end information estimates.
"""

from abc import ABCMeta, abstractmethod

import numpy as np
import torch

from .._data import MIN_INFERENCE_ROWS, stack_rows
from ..engine.device import autocast, with_threads

__all__ = ["GaussianPosterior"]


class GaussianPosterior(metaclass=ABCMeta):
    """Mixin: ``posterior(X)`` from the model's ``_posterior_function(device)``."""

    @with_threads
    def posterior(self, X):
        """Parameters of the posterior ``q(z | x)``: its means and log-variances.

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
            Data to encode.

        Returns
        -------
        means : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            Posterior means (what :meth:`transform` returns).
        logvars : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            Log-variances of the diagonal Gaussian posterior.

        Both concatenate the levels (or layers, or groups) in the order of
        :meth:`transform`; :func:`skdisent.metrics.mig_sampling` and
        :func:`~skdisent.metrics.information_per_level` take them. The class
        docstring says what they are where the posterior is not a plain Gaussian
        (``HierarchicalVAE``'s upper layers, ``TeacherStudentVAE``'s deterministic codes).
        """
        source, device = self._fitted_source(X)
        batches = source.batches(device, min_rows=MIN_INFERENCE_ROWS)
        return self._posterior_of_batches(batches, device, len(source), padded=True)

    def _posterior_of_batches(self, batches, device, n_samples, dtype=np.float32, padded=False):
        """Posterior means and log-variances of ``batches`` (the caller sets the network's mode).

        Parameters
        ----------
        batches : iterable of torch.Tensor
            Batches on ``device`` in the network's input layout.
        device : torch.device
            Where the network is.
        n_samples : int
            Rows of all batches together.
        dtype : numpy dtype, default=np.float32
            Type of the arrays returned.
        padded : bool, default=False
            The last batch may hold padding rows beyond ``n_samples`` (dropped).

        Returns
        -------
        means, logvars : ndarray of shape (n_samples, n_components_)
        """
        parameters = self._posterior_function(device)
        with torch.no_grad(), autocast(device, self.precision):
            return stack_rows((parameters(x) for x in batches), n_samples, dtype=dtype,
                              padded=padded)

    @abstractmethod
    def _posterior_function(self, device):
        """``x -> (means, logvars)``, two ``(n, n_components_)`` tensors, for batches on ``device``."""
