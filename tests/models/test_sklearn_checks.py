"""scikit-learn's own estimator checks over the three ladder models, with their defaults.

The check suite feeds arbitrary real-valued rows; ``likelihood="auto"`` (the default)
models them with a Gaussian likelihood, and data within [0, 1] with a Bernoulli one.
LDF's checks are in test_ldf.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from .conftest import tiny_models


@parametrize_with_checks(tiny_models())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
