import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.utils import check_random_state

from skdisent.metrics import information_per_level, mig_sampling, mutual_info_matrix_sampling
from skdisent.metrics._sampling import _Posteriors

from . import cases

SIZES = (4, 5, 3)
NARROW = -8.0  # log-variance of posteriors far narrower than the spacing of their means


def log_gaussian(z, mu, logvar):
    return -0.5 * (np.log(2 * np.pi) + logvar + (z - mu) ** 2 / np.exp(logvar))


def reference_entropies(means, logvars, factors, random_state):
    """Chen et al.'s estimator written out with scipy, all samples in every entropy."""
    post = _Posteriors(means, logvars, check_random_state(random_state))
    z = post.samples(torch.arange(len(means)), torch.arange(means.shape[1])[None])[0].numpy()

    def entropy(rows):
        dens = log_gaussian(z[rows, None, :], means[None, rows], logvars[None, rows])
        return -(logsumexp(dens, axis=1) - np.log(len(rows))).mean(0)

    marginal = entropy(np.arange(len(means)))
    conditional = np.array([
        sum(np.mean(col == v) * entropy(np.flatnonzero(col == v)) for v in np.unique(col))
        for col in factors.T
    ])
    return marginal, conditional


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES)


def posteriors(codes, logvar=NARROW):
    return 3.0 * codes, np.full(codes.shape, logvar)


def test_matches_the_estimator_written_out():
    rng = np.random.default_rng(0)
    factors = cases.factor_grid((3, 4), repeats=2)
    means = np.c_[factors + 0.3 * rng.normal(size=factors.shape), rng.normal(size=len(factors))]
    logvars = rng.uniform(-3, 0, size=means.shape)
    mi, marginal, conditional = mutual_info_matrix_sampling(
        means, logvars, factors, random_state=7, return_entropies=True)
    ref_marginal, ref_conditional = reference_entropies(means, logvars, factors, 7)
    np.testing.assert_allclose(marginal, ref_marginal, atol=1e-5)
    np.testing.assert_allclose(conditional, ref_conditional, atol=1e-5)
    expected = np.clip((ref_marginal - ref_conditional) / np.log([3, 4])[:, None], 0, None).T
    np.testing.assert_allclose(mi, expected, atol=1e-5)


def test_chunk_size_changes_nothing_but_rounding(factors):
    means, logvars = posteriors(cases.identity(factors) + cases.noise(factors), logvar=-1.0)
    big = mutual_info_matrix_sampling(means, logvars, factors, random_state=0)
    for chunk_size in (1, 7, 1000):
        small = mutual_info_matrix_sampling(means, logvars, factors, random_state=0,
                                            chunk_size=chunk_size)
        np.testing.assert_allclose(small, big, atol=1e-6)


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled])
def test_axis_aligned_codes_score_one(factors, make):
    scores = mig_sampling(*posteriors(make(factors)), factors, random_state=0)
    assert scores["mig"] == pytest.approx(1.0, abs=1e-6)
    assert scores["mig_sup"] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(scores["active_units"], [0, 1, 2])


def test_identity_gives_the_identity_matrix(factors):
    mi = mutual_info_matrix_sampling(*posteriors(cases.identity(factors)), factors,
                                     random_state=0)
    np.testing.assert_allclose(mi, np.eye(3), atol=1e-6)


def test_one_latent_holding_two_factors(factors):
    scores = mig_sampling(*posteriors(cases.packed(factors, SIZES)), factors, random_state=0)
    assert scores["mig"] == pytest.approx(1.0, abs=1e-6)
    assert scores["mig_sup"] == pytest.approx(0.5, abs=1e-6)


def test_one_factor_split_over_two_latents(factors):
    scores = mig_sampling(*posteriors(cases.split(factors)), factors, random_state=0)
    assert scores["mig"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["mig_sup"] == pytest.approx(1.0, abs=1e-6)


def test_latents_at_the_prior_know_nothing(factors):
    means = np.c_[3.0 * factors[:, :1], np.zeros((len(factors), 2))]
    logvars = np.c_[np.full((len(factors), 1), NARROW), np.zeros((len(factors), 2))]
    mi = mutual_info_matrix_sampling(means, logvars, factors, random_state=0)
    np.testing.assert_allclose(mi[1:], 0.0, atol=1e-6)
    assert mi[0, 0] == pytest.approx(1.0, abs=1e-6)
    with pytest.warns(UserWarning, match="no latent is active"):
        assert mig_sampling(means[:, 1:], logvars[:, 1:], factors)["mig_sup"] == 0.0


def test_leaving_a_factor_out_keeps_the_others(factors):
    means, logvars = posteriors(cases.identity(factors) + cases.noise(factors), logvar=-1.0)
    every = mutual_info_matrix_sampling(means, logvars, factors, random_state=0)
    some = mutual_info_matrix_sampling(means, logvars, factors[:, 1:], random_state=0)
    np.testing.assert_allclose(some, every[:, 1:], atol=1e-12)


def test_subsamples_are_deterministic_given_random_state():
    factors = cases.factor_grid(SIZES, repeats=4)
    means, logvars = posteriors(cases.identity(factors) + cases.noise(factors), logvar=-1.0)
    first = mutual_info_matrix_sampling(means, logvars, factors, n_samples=50, random_state=3)
    again = mutual_info_matrix_sampling(means, logvars, factors, n_samples=50, random_state=3)
    other = mutual_info_matrix_sampling(means, logvars, factors, n_samples=50, random_state=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # and the subsampled estimate is close to the one on every sample
    full = mutual_info_matrix_sampling(means, logvars, factors, random_state=3)
    np.testing.assert_allclose(first, full, atol=0.15)


def test_constant_factor_column_is_zero_and_left_out_of_the_scores(factors):
    with_constant = np.c_[factors, np.zeros(len(factors), dtype=int)]
    means, logvars = posteriors(cases.identity(factors))
    assert np.all(mutual_info_matrix_sampling(means, logvars, with_constant)[:, 3] == 0.0)
    with pytest.warns(UserWarning, match=r"factor column\(s\) \[3\]"):
        assert mig_sampling(means, logvars, with_constant)["mig"] == pytest.approx(1.0, abs=1e-6)


def test_kernel_against_scipy_in_both_precisions():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(400, 3))
    for logvars, dtype in [(rng.uniform(-4, 0, size=(400, 3)), torch.float32),
                           (np.full((400, 3), -40.0), torch.float64)]:
        post = _Posteriors(means, logvars, np.random.RandomState(0))
        assert post.dtype == dtype
        blocks = torch.tensor([[0, 2]])  # one block, joint over latents 0 and 2
        rows = torch.arange(0, 400, 3)
        cmax = post.log_weight_max(blocks)
        got = post.log_mixture(rows, torch.arange(400), blocks, cmax, chunk_size=500)[0].numpy()
        z = post.samples(rows, blocks)[0].numpy()
        dens = log_gaussian(z[:, None], means[None][..., [0, 2]], logvars[None][..., [0, 2]])
        expected = logsumexp(dens.sum(-1), axis=1)
        np.testing.assert_allclose(got, expected, atol=1e-5 if dtype == torch.float32 else 1e-9)


def test_samples_far_below_the_sharpest_posterior_are_redone_in_float64():
    rng = np.random.default_rng(1)
    means, logvars = rng.normal(size=(300, 2)), rng.uniform(-2, 0, size=(300, 2))
    post = _Posteriors(means, logvars, np.random.RandomState(0))
    assert post.dtype == torch.float32
    post.eps[:5] = 12.0  # own exponent about -144: float32 would floor it away
    blocks, rows = torch.arange(2)[:, None], torch.arange(10)
    got = post.log_mixture(rows, torch.arange(300), blocks, post.log_weight_max(blocks), 97)
    z = post.samples(rows, blocks).numpy()[..., 0].T
    expected = logsumexp(log_gaussian(z[:, None], means[None], logvars[None]), axis=1).T
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_posteriors_beyond_what_float64_densities_hold_are_refused(factors):
    means, logvars = posteriors(cases.identity(factors))
    for bad_means, bad_logvars, match in [(means, logvars + 700.0, r"logvars must lie within "
                                           r"\+-600; got \d+ at row"),
                                          (means * 1e101, logvars, r"means must lie within "
                                           r"\+-1e\+100")]:
        with pytest.raises(ValueError, match=match):
            mig_sampling(bad_means, bad_logvars, factors, n_samples=50, random_state=0)


def test_log_variances_too_far_apart_raise(factors):
    means, logvars = posteriors(cases.identity(factors))
    logvars[0], logvars[1:] = -600.0, 600.0  # within the bounds, but e^600 apart
    with pytest.raises(ValueError, match="span too wide a range"):
        mutual_info_matrix_sampling(means, logvars, factors)


def test_bad_posterior_input(factors):
    means, logvars = posteriors(cases.identity(factors))
    with pytest.raises(ValueError, match="means has shape .* but logvars has shape"):
        mutual_info_matrix_sampling(means, logvars[:, :2], factors)
    with pytest.raises(ValueError, match="means has 60 samples but factors has 59"):
        mig_sampling(means, logvars, factors[:-1])
    logvars[2, 1] = np.nan
    with pytest.raises(ValueError, match="logvars contains NaN or infinity"):
        mig_sampling(means, logvars, factors)
    for name in ("n_samples", "chunk_size"):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            mutual_info_matrix_sampling(means, np.zeros_like(means), factors, **{name: 0})


def test_information_per_level_known_cases():
    rng = np.random.default_rng(0)
    n, kw = 2000, {"n_samples": 1000, "random_state": 0}  # standard error about 0.03 nats
    informative = rng.normal(size=(n, 2)) * 10  # every posterior apart: I = log n
    copied = np.repeat(np.arange(10.0), n // 10)[:, None] * [3.0, 3.0]  # 10 points in 2-D
    means = np.c_[informative, copied, np.zeros((n, 2))]
    logvars = np.c_[np.full((n, 4), NARROW), np.zeros((n, 2))]  # the last level is the prior
    info = information_per_level(means, logvars, [2, 2, 2], **kw)
    # the copied level is measured jointly: log 10, not 2 log 10
    np.testing.assert_allclose(info, [np.log(n), np.log(10), 0.0], atol=0.12)
    by_columns = information_per_level(means, logvars, [slice(0, 2), [2, 3], np.array([4, 5])],
                                       **kw)
    np.testing.assert_array_equal(info, by_columns)
    # levels in any order and of any size; I(x; z) <= log n however many levels hold x
    ragged = information_per_level(means, logvars, [[4, 5], slice(0, 4)], **kw)
    np.testing.assert_allclose(ragged, [0.0, np.log(n)], atol=0.12)


def test_information_per_level_bad_levels():
    means = np.zeros((10, 4))
    with pytest.raises(ValueError, match="sum to n_latents=4; got"):
        information_per_level(means, means, [2, 1])
    with pytest.raises(ValueError, match="out of range for 4 latents"):
        information_per_level(means, means, [[0, 7]])
    with pytest.raises(ValueError, match="selects no latent column"):
        information_per_level(means, means, [slice(2, 2)])
    with pytest.raises(ValueError, match="levels is empty"):
        information_per_level(means, means, [])
