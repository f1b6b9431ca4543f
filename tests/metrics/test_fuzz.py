"""Every metric, on any finite codes, returns a value in its documented range or a ValueError.

Hypothesis draws small data sets (bounded in time) whose codes span every magnitude a
float can hold: ordinary values, values near float32's and float64's limits, subnormal
values, constant and nearly constant latents, and factors with few or many values.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skdisent import metrics

SCALES = [1.0, 1e-3, 1e3, 3e38, 1e-40, 1e100, 1e-310, 1e160, 1.7e308]


@st.composite
def datasets(draw, min_samples=4, max_samples=40):
    n = draw(st.integers(min_samples, max_samples))
    k = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from(SCALES))
    with np.errstate(over="ignore", under="ignore"):
        codes = (rng.standard_normal((n, k)) * scale).astype(dtype)
        if draw(st.booleans()):  # one latent constant or spanning the whole range
            codes[:, 0] = draw(st.sampled_from([0.0, scale, np.finfo(dtype).max]))
        if draw(st.booleans()):
            codes[0, -1], codes[-1, -1] = np.finfo(dtype).max, -np.finfo(dtype).max
    codes = np.nan_to_num(codes, nan=0.0, posinf=np.finfo(dtype).max, neginf=-np.finfo(dtype).max)
    sizes = draw(st.lists(st.integers(1, 6), min_size=m, max_size=m))
    factors = np.stack([rng.integers(0, s, n) for s in sizes], axis=1)
    return codes, factors


def in_range(value, low=0.0, high=1.0):
    return isinstance(value, float) and math.isfinite(value) and low - 1e-12 <= value <= high + 1e-12


def run(metric, *args, **kwargs):
    """The metric's value, or None for a ValueError (which must say something)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return metric(*args, **kwargs)
        except ValueError as error:
            assert str(error), metric
            return None


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

SCORES = {
    "mig": lambda c, f: metrics.mig(c, f),
    "mig_sup": lambda c, f: metrics.mig_sup(c, f),
    "modularity": lambda c, f: metrics.modularity(c, f),
    "sap": lambda c, f: metrics.sap(c, f, random_state=0),
    "sap_continuous": lambda c, f: metrics.sap(c, f, continuous_factors=True),
    "dci": lambda c, f: metrics.dci(c, f, random_state=0)["disentanglement"],
    "factor_vae_score": lambda c, f: metrics.factor_vae_score(c, f, batch_size=4, n_train=20,
                                                              n_eval=10, random_state=0),
    "beta_vae_score": lambda c, f: metrics.beta_vae_score(c, f, batch_size=4, n_train=20,
                                                          n_eval=10, random_state=0),
}


@pytest.mark.parametrize("name", list(SCORES))
@FUZZ
@given(data=datasets())
def test_scores_are_in_zero_one_or_refused(name, data):
    value = run(SCORES[name], *data)
    assert value is None or in_range(value), (name, value)


@FUZZ
@given(data=datasets())
def test_the_mutual_information_matrix_is_bounded_by_the_entropies(data):
    codes, factors = data
    mi = run(metrics.mutual_info_matrix, codes, factors)
    if mi is None:
        return
    assert np.isfinite(mi).all() and (mi >= 0).all()
    entropy = [-(p * np.log(p)).sum() for p in
               (np.bincount(column) / len(column) for column in factors.T)]
    assert (mi <= np.array(entropy) + 1e-9).all()
    normalised = run(metrics.mutual_info_matrix, codes, factors, normalize=True)
    assert normalised is None or (np.isfinite(normalised).all()
                                  and ((0 <= normalised) & (normalised <= 1 + 1e-9)).all())


@st.composite
def posteriors(draw):
    codes, factors = draw(datasets(max_samples=24))
    codes = codes.astype(np.float64)
    logvar = draw(st.sampled_from([-700.0, -100.0, -10.0, 0.0, 10.0, 100.0, 150.0, 700.0]))
    spread = draw(st.sampled_from([0.0, 1.0, 50.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logvars = logvar + spread * rng.standard_normal(codes.shape)
    return codes, logvars, factors


@FUZZ
@given(data=posteriors())
def test_sampling_estimators_are_in_their_ranges_or_refused(data):
    means, logvars, factors = data
    n = len(means)
    information = run(metrics.information_per_level, means, logvars, [1] * means.shape[1],
                      n_samples=n, random_state=0)
    if information is not None:
        # I(x; z_l) <= H(x) = log N, up to the Monte Carlo noise of the own term
        assert np.isfinite(information).all() and (information <= math.log(n) + 0.5).all()
    result = run(metrics.mig_sampling, means, logvars, factors, n_samples=n, random_state=0)
    if result is not None:
        assert in_range(result["mig"]) and in_range(result["mig_sup"])
