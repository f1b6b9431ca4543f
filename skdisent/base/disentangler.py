"""The transformer side of the skdisent models: codes in, codes out.

:class:`BaseDisentangler` is a :class:`~skdisent.base.BaseGenerativeModel` with an
encoder: ``transform`` (posterior means), ``inverse_transform``, ``score`` and
``get_feature_names_out``. Models without an encoder (a GAN) derive from
:class:`~skdisent.base.BaseGenerativeModel` alone, so they do not pose as transformers.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._data import MIN_INFERENCE_ROWS, stack_rows
from ..engine.device import autocast, device_generator, with_threads
from .generative import BaseGenerativeModel

__all__ = ["BaseDisentangler"]


class BaseDisentangler(TransformerMixin, BaseGenerativeModel):
    """Base class of the skdisent models with an encoder: a scikit-learn transformer.

    Besides the hooks of :class:`~skdisent.base.BaseGenerativeModel`, a subclass
    implements ``_encode(x)`` (codes of a batch, for :meth:`transform`),
    ``_score_batch(x, generator)`` (per-sample scores whose mean is :meth:`score`)
    and ``_feature_names()`` (names of the code's columns), and has an
    ``n_components_`` attribute or property.
    """

    @with_threads
    def transform(self, X):
        """Encode ``X`` as posterior means.

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
            Data to encode.

        Returns
        -------
        codes : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            Posterior means, levels concatenated from the shallowest to the deepest.
        """
        source, device = self._fitted_source(X)
        with torch.no_grad(), autocast(device, self.precision):
            batches = source.batches(device, min_rows=MIN_INFERENCE_ROWS)
            return stack_rows((self._encode(x) for x in batches), len(source), padded=True)

    @with_threads
    def inverse_transform(self, X):
        """Decode codes back to data in the layout ``fit`` was given.

        Parameters
        ----------
        X : array-like of shape ``(n_samples, n_components_)``
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape ``(n_samples, *input_shape_)``, dtype float32
            The likelihood's mean: pixel probabilities in [0, 1] for a Bernoulli
            likelihood, on the [0, 1] scale for ``uint8`` training data.
        """
        check_is_fitted(self, "network_")
        codes = check_array(X, dtype=[np.float32, np.float64])
        if codes.shape[1] != self.n_components_:
            raise ValueError(
                f"inverse_transform expects codes with {self.n_components_} columns "
                f"(n_components_), got {codes.shape[1]}."
            )
        with np.errstate(over="ignore"):
            codes = np.asarray(codes, dtype=np.float32)
        if not np.isfinite(codes).all():
            raise ValueError("inverse_transform needs codes within float32's range "
                             "(|z| < 3.4e38).")
        decoded = self._decode_array(torch.from_numpy(codes))
        if not np.isfinite(decoded).all():
            raise ValueError(
                f"Decoding gave NaN or infinite values: codes as large as "
                f"{float(np.abs(codes).max()):.3g} overflow the network. Codes are posterior "
                "means, near the prior N(0, I)."
            )
        return decoded

    @with_threads
    def score(self, X, y=None):
        """Mean evidence lower bound (ELBO) per sample, in nats; higher is better.

        Uses one reparameterised draw per sample from a generator seeded with
        ``random_state``, so repeated calls agree; KL terms use ``beta=1`` (the true
        ELBO, whatever ``beta`` the model was trained with).

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
            Data to score.
        y : Ignored

        Returns
        -------
        score : float
            Mean ELBO per sample.
        """
        source, device = self._fitted_source(X)
        seed = int(self.random_state) if isinstance(self.random_state, Integral) else 0
        generator = device_generator(device, seed)
        total = 0.0
        with torch.no_grad(), autocast(device, self.precision):
            for x in source.batches(device):
                total += float(self._score_batch(x, generator).sum())
        return total / len(source)

    def get_feature_names_out(self, input_features=None):
        """Names of the latent dimensions, by level.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``"<model>_level<l>_z<j>"`` for each latent dimension.
        """
        check_is_fitted(self, "network_")
        if (input_features is not None and hasattr(self, "feature_names_in_")
                and list(input_features) != list(self.feature_names_in_)):
            raise ValueError("input_features is not equal to feature_names_in_.")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}_{name}" for name in self._feature_names()], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

