"""Offline sample quality: an Inception Score per factor and a Frechet distance, read by a FactorClassifier.

The Inception Score (Salimans et al. 2016) and the FID (Heusel et al. 2017) read samples through
an ImageNet Inception network, which cannot be downloaded here and knows nothing of sprites or
3D shapes. These scores keep the formulas and change the instrument: a
:class:`FactorClassifier` trained on data whose factors are known.

- :func:`factor_inception_score`: per factor, ``exp(E_x KL(p(y_k | x) || p(y_k)))``, the Inception
  Score's formula with the classifier's head of factor ``k`` in place of the 1,000 ImageNet
  classes; ``n_splits`` as in the reference code (mean over splits; its std is not returned).
- :func:`frechet_factor_distance`: the FID formula, with pytorch-fid's handling of singular
  covariances and of the imaginary parts of the matrix square root, on the classifier's hidden
  features instead of Inception's pool features.

The numbers are not comparable to published IS or FID values, nor across classifiers: compare
models with one fitted classifier (see :func:`~skdisent.metrics.inception_score` for the real ones).
"""

import warnings

import numpy as np
from scipy import linalg
from scipy.special import rel_entr


def inception_score_of_probabilities(probabilities, n_splits=1):
    """``exp(E_x KL(p(y|x) || p(y)))`` of a ``(n, n_classes)`` array of class probabilities.

    ``p(y)`` is the mean of the rows of each split; the result is the mean over ``n_splits``
    consecutive splits, as in the reference code of Salimans et al. (2016).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"probabilities must be 2-D (n_samples, n_classes); got shape {p.shape}.")
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("probabilities must be finite, non-negative, and each row must sum to 1.")
    if not isinstance(n_splits, (int, np.integer)) or not 1 <= n_splits <= len(p):
        raise ValueError(f"n_splits must be an int between 1 and the number of samples ({len(p)}), got {n_splits!r}.")
    scores = []
    for k in range(n_splits):
        part = p[k * len(p) // n_splits:(k + 1) * len(p) // n_splits]
        kl = rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1)  # 0 log 0 = 0
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def _check_fitted_classifier(classifier):
    if not all(hasattr(classifier, name) for name in ("predict_proba", "features", "n_values_")):
        raise TypeError(
            "classifier must be a fitted FactorClassifier (fit it on real images and their factors "
            f"first); got {type(classifier).__name__}."
        )


def factor_inception_score(images, classifier, *, n_splits=1):
    """The Inception Score of each factor, read by a fitted :class:`FactorClassifier`.

    For factor ``k``: ``exp(E_x KL(p(y_k | x) || p(y_k)))``, where ``p(y_k | x)`` is the
    classifier's head ``k`` on sample ``x`` and ``p(y_k)`` its mean over the samples. It lies
    between 1 and the number of values of the factor: it equals that number when every sample
    is classified with certainty and the samples cover every value evenly, and falls when the
    samples are ambiguous (blurred, broken: ``p(y_k | x)`` spread out) or miss values (mode
    dropping: ``p(y_k)`` concentrated); 1 when every sample reads the same.

    Parameters
    ----------
    images : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
        Samples to score, as the classifier was fitted on (uint8, or floats in [0, 1]).
    classifier : FactorClassifier
        Fitted on real data with the factors.
    n_splits : int, default=1
        Score consecutive splits of the samples separately and return the mean (the reference
        code uses 10 splits of 50,000 samples). More splits lower the score of few samples.

    Returns
    -------
    scores : ndarray of shape (n_factors,)
        One score per factor of the classifier, in ``[1, classifier.n_values_[k]]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.datasets import make_dsprites
    >>> from skdisent.metrics import FactorClassifier, factor_inception_score
    >>> X, y = make_dsprites(n_samples=300, size=32, random_state=0, return_X_y=True)
    >>> clf = FactorClassifier(n_epochs=2, random_state=0).fit(X, y[:, :1])
    >>> scores = factor_inception_score(X, clf)
    >>> scores.shape, bool(1 <= scores[0] <= 3)
    ((1,), True)
    """
    _check_fitted_classifier(classifier)
    probabilities = classifier.predict_proba(images)
    return np.array([inception_score_of_probabilities(p, n_splits) for p in probabilities])


def image_statistics(data, features_of, name):
    """``(mean, covariance)`` of images (read by ``features_of``), of features ``(n, d)``, or as given."""
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"{name} as a tuple must be (mean, covariance); got {len(data)} items.")
        mu, sigma = np.atleast_1d(np.asarray(data[0], dtype=np.float64)), np.atleast_2d(
            np.asarray(data[1], dtype=np.float64))
        if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
            raise ValueError(
                f"{name} as (mean, covariance) needs shapes (d,) and (d, d); got {mu.shape} and {sigma.shape}."
            )
        return mu, sigma
    array = np.asarray(data)
    if array.ndim != 2:
        array = features_of(array)
    if len(array) < 2:
        raise ValueError(f"{name} has {len(array)} samples; a covariance needs at least 2.")
    array = np.asarray(array, dtype=np.float64)
    return array.mean(axis=0), np.cov(array, rowvar=False).reshape(array.shape[1], array.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``, as pytorch-fid's ``calculate_frechet_distance``.

    When the square root of a singular product is not finite, ``eps`` is added to the diagonals;
    an imaginary part that numerical error leaves on the square root's diagonal (up to 1e-3) is
    dropped, a larger one raises.
    """
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(sigma1)) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(
                f"The square root of the product of covariances has an imaginary component of "
                f"{np.max(np.abs(covmean.imag)):.3g}; the covariances are too ill-conditioned (use more samples)."
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_factor_distance(images, reference, classifier=None):
    """The FID formula on the features of a fitted :class:`FactorClassifier`.

    Gaussians are fitted to ``classifier.features`` of the two sets (mean and covariance) and
    compared with the Frechet distance, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``:
    0 for two sets of the same features, larger as the samples drift from the reference in what
    the classifier sees (blur, missing factor values, wrong proportions). Like the FID it is
    biased upwards for few samples: compare sets of equal size.

    Parameters
    ----------
    images : array-like or tuple
        The samples: images or videos ``(n_samples, ...)`` as the classifier was fitted on; or
        their features, a 2-D ``(n_samples, feature_dim)`` array; or ``(mean, covariance)``.
    reference : array-like or tuple
        The real data, in any of the same three forms. Pass precomputed features or
        ``(mean, covariance)`` to score many sample sets against one reference cheaply.
    classifier : FactorClassifier, default=None
        Fitted on real data; needed unless both sets are given as features or statistics.

    Returns
    -------
    distance : float
        Non-negative up to rounding (the formula, as pytorch-fid's, is not clipped).

    Examples
    --------
    >>> from skdisent.datasets import make_dsprites
    >>> from skdisent.metrics import FactorClassifier, frechet_factor_distance
    >>> X, y = make_dsprites(n_samples=300, size=32, random_state=0, return_X_y=True)
    >>> clf = FactorClassifier(n_epochs=1, random_state=0).fit(X, y[:, :1])
    >>> reference = clf.features(X[:150])
    >>> distance = frechet_factor_distance(X[150:], reference, clf)
    """
    def features_of(data):
        _check_fitted_classifier(classifier)
        return classifier.features(data)

    mu1, sigma1 = image_statistics(images, features_of, "images")
    mu2, sigma2 = image_statistics(reference, features_of, "reference")
    if mu1.shape != mu2.shape:
        raise ValueError(f"images and reference have features of {len(mu1)} and {len(mu2)} dimensions.")
    return frechet_distance(mu1, sigma1, mu2, sigma2)
