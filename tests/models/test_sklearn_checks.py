"""scikit-learn's own estimator checks over the three ladder models.

The check suite feeds arbitrary real-valued rows, so the models are checked with a
Gaussian likelihood (which accepts any real values) on flat rows (the dense ladder).
Bernoulli models and image layouts are covered by the other tests.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from .conftest import tiny_models


@parametrize_with_checks(tiny_models(likelihood="gaussian"))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
