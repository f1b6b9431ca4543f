"""Offline sample quality: FactorClassifier, factor_inception_score, frechet_factor_distance.

Known answers: the formulas on hand-made probabilities and Gaussians; then, through one
classifier fitted on moving-sprites videos, real held-out data scores best, and dropping
factor values or blurring the frames makes the scores worse, monotonically.
"""

import pickle

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from sklearn.base import clone

from skdisent.datasets import make_moving_sprites
from skdisent.metrics import (
    FactorClassifier,
    factor_inception_score,
    frechet_factor_distance,
)
from skdisent.metrics._sample_quality import (
    frechet_distance,
    inception_score_of_probabilities,
)

START_X = 1  # the factor whose values are dropped: 8 start positions


@pytest.fixture(scope="module")
def sprites():
    """Training videos, a held-out real set and a reference set, with their factors."""
    videos, factors = make_moving_sprites(n_samples=2400, random_state=0, return_X_y=True)
    return {"train": (videos[:1600], factors[:1600]), "real": (videos[1600:2000], factors[1600:2000]),
            "reference": (videos[2000:], factors[2000:])}


@pytest.fixture(scope="module")
def classifier(sprites):
    return FactorClassifier(n_epochs=8, random_state=0).fit(*sprites["train"])


def blurred(videos, sigma):
    return gaussian_filter(videos.astype(np.float64), sigma=(0, 0, 0, sigma, sigma)).round().astype(np.uint8)


# ---- the formulas, on hand-made inputs --------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 5, 10])
def test_confident_and_even_predictions_score_the_number_of_classes(n_classes):
    one_hot = np.eye(n_classes)[np.arange(10 * n_classes) % n_classes]
    assert inception_score_of_probabilities(one_hot) == pytest.approx(n_classes, rel=1e-12)


def test_constant_or_uninformative_predictions_score_one():
    assert inception_score_of_probabilities(np.tile([0.0, 1.0, 0.0], (20, 1))) == pytest.approx(1.0)
    assert inception_score_of_probabilities(np.tile([0.2, 0.5, 0.3], (20, 1))) == pytest.approx(1.0)
    assert inception_score_of_probabilities(np.full((20, 4), 0.25)) == pytest.approx(1.0)


def test_score_lies_between_one_and_the_number_of_classes_and_matches_the_definition():
    rng = np.random.default_rng(0)
    for concentration in (0.3, 1.0, 20.0):
        p = rng.dirichlet(np.full(6, concentration), size=200)
        score = inception_score_of_probabilities(p)
        assert 1.0 <= score <= 6.0
        marginal = p.mean(axis=0)
        expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1)))
        assert score == pytest.approx(expected, rel=1e-10)


def test_two_values_out_of_four_score_two():
    mode_dropped = np.eye(4)[np.arange(40) % 2]  # confident, but only values 0 and 1
    assert inception_score_of_probabilities(mode_dropped) == pytest.approx(2.0)


def test_splits_average_the_score_of_each_split():
    # first half always class 0, second half even over two classes: 1 and 2 per split
    p = np.concatenate([np.tile([1.0, 0.0], (10, 1)), np.eye(2)[np.arange(10) % 2]])
    assert inception_score_of_probabilities(p, n_splits=2) == pytest.approx(1.5)
    assert inception_score_of_probabilities(p, n_splits=1) == pytest.approx(
        np.exp(0.5 * np.log(1 / 0.75) + 0.5 * 0.5 * (np.log(1 / 0.75) + np.log(1 / 0.25))))


@pytest.mark.parametrize("bad, match", [
    (np.full((4, 3), 0.5), "sum to 1"),
    (np.array([[1.5, -0.5]] * 3), "non-negative"),
    (np.ones(3) / 3, "2-D"),
])
def test_probabilities_are_validated(bad, match):
    with pytest.raises(ValueError, match=match):
        inception_score_of_probabilities(bad)
    with pytest.raises(ValueError, match="n_splits"):
        inception_score_of_probabilities(np.eye(3), n_splits=4)


def test_frechet_distance_of_gaussians_in_closed_form():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2; diagonal covariances: the sum over dimensions
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == (
        pytest.approx(9.0 + 1.0))
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_frechet_takes_features_statistics_and_handles_singular_covariances():
    rng = np.random.default_rng(1)
    features = np.c_[rng.normal(size=(50, 3)), np.zeros((50, 5))]  # rank 3 of 8: singular covariance
    assert frechet_factor_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    stats = (features.mean(axis=0), np.cov(features, rowvar=False))
    shifted = features + 2.0
    assert frechet_factor_distance(shifted, stats) == pytest.approx(8 * 4.0, rel=1e-6)
    with pytest.raises(ValueError, match="dimensions"):
        frechet_factor_distance(features, features[:, :4])
    with pytest.raises(TypeError, match="fitted FactorClassifier"):
        frechet_factor_distance(np.zeros((5, 3, 8, 8)), features)


# ---- the classifier ---------------------------------------------------------------------------


def test_classifier_reads_the_factors_of_held_out_videos(classifier, sprites):
    videos, factors = sprites["real"]
    assert classifier.n_values_.tolist() == [4, 8, 8, 4, 4]
    assert classifier.input_shape_ == videos.shape[1:]
    accuracy = (classifier.predict(videos) == factors).mean(axis=0)
    assert accuracy[1:].min() > 0.9 and accuracy[0] > 0.5  # the shape is the hardest at 32x32
    assert classifier.accuracy_.shape == (5,) and classifier.accuracy_[1:].min() > 0.9
    assert classifier.score(videos, factors) == pytest.approx(accuracy.mean())
    probabilities = classifier.predict_proba(videos[:7])
    assert [p.shape for p in probabilities] == [(7, k) for k in (4, 8, 8, 4, 4)]
    np.testing.assert_allclose([p.sum(axis=1) for p in probabilities], 1.0)
    features = classifier.features(videos[:7])
    assert features.shape == (7, classifier.feature_dim) and features.dtype == np.float64


def test_readings_do_not_depend_on_the_batch_or_the_dtype(classifier, sprites):
    videos = sprites["real"][0][:9]
    one_by_one = np.concatenate([classifier.features(videos[i:i + 1]) for i in range(9)])
    np.testing.assert_allclose(classifier.features(videos), one_by_one, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(classifier.features(videos / 255.0), one_by_one, rtol=1e-5, atol=1e-5)


def test_fit_is_deterministic_and_leaves_the_global_generators_alone():
    images = np.random.default_rng(0).integers(0, 256, size=(40, 3, 8, 8), dtype=np.uint8)
    factors = np.c_[np.arange(40) % 2, np.arange(40) % 3]
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = FactorClassifier(n_epochs=2, conv_channels=(4,), feature_dim=8, random_state=3).fit(images, factors)
    b = FactorClassifier(n_epochs=2, conv_channels=(4,), feature_dim=8, random_state=3).fit(images, factors)
    c = FactorClassifier(n_epochs=2, conv_channels=(4,), feature_dim=8, random_state=4).fit(images, factors)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    np.testing.assert_array_equal(a.features(images), b.features(images))
    assert not np.array_equal(a.features(images), c.features(images))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.features(images), a.features(images))
    np.testing.assert_array_equal(clone(a).fit(images, factors).features(images), a.features(images))


def test_classifier_input_validation(classifier):
    images = np.zeros((4, 3, 8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        FactorClassifier(n_epochs=1).fit(np.zeros((4, 64)), np.zeros(4, int))
    with pytest.raises(ValueError, match="non-negative"):
        FactorClassifier(n_epochs=1).fit(images, -np.ones(4, int))
    with pytest.raises(ValueError, match="one row of factors"):
        FactorClassifier(n_epochs=1).fit(images, np.zeros(3, int))
    with pytest.raises(ValueError, match="feature_dim"):
        FactorClassifier(feature_dim=0).fit(images, np.zeros(4, int))
    with pytest.raises(ValueError, match="conv_channels"):
        FactorClassifier(conv_channels=()).fit(images, np.zeros(4, int))
    for shape in [(2, 5, 3, 16, 16), (2, 4, 3, 32, 32)]:
        with pytest.raises(ValueError, match=r"samples of shape \(5, 3, 32, 32\)"):
            classifier.predict(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=r"floats scaled to \[0, 1\]"):
        classifier.predict(np.full((2, 5, 3, 32, 32), 255.0))
    with pytest.raises(ValueError, match="1 sample"):
        FactorClassifier(n_epochs=1).fit(images[:1], np.zeros(1, int))


# ---- known answers through the fitted classifier ----------------------------------------------


def test_real_data_scores_near_the_number_of_values(classifier, sprites):
    videos = sprites["real"][0]
    scores = factor_inception_score(videos, classifier)
    assert scores.shape == (5,)
    assert ((scores >= 1.0) & (scores <= classifier.n_values_)).all()
    assert (scores[1:] > 0.8 * classifier.n_values_[1:]).all()
    assert frechet_factor_distance(videos, videos, classifier) == pytest.approx(0.0, abs=1e-6)
    split_scores = factor_inception_score(videos, classifier, n_splits=4)
    assert (split_scores <= scores + 1e-9).all()  # fewer samples per split: a lower score


def test_dropping_factor_values_lowers_that_factors_score_monotonically(classifier, sprites):
    (videos, factors), reference = sprites["real"], sprites["reference"][0]
    real_distance = frechet_factor_distance(videos, reference, classifier)
    scores, distances = [], []
    for kept in (1, 2, 4, 8):
        rows = factors[:, START_X] < kept
        scores.append(factor_inception_score(videos[rows], classifier)[START_X])
        distances.append(frechet_factor_distance(videos[rows], reference, classifier))
    assert np.all(np.diff(scores) > 0), scores
    assert scores[0] < 1.5 and abs(scores[1] - 2) < 0.5 and abs(scores[2] - 4) < 1.0
    assert np.all(np.diff(distances[:3]) < 0) and min(distances[:3]) > real_distance, (distances, real_distance)


def test_blur_makes_every_score_worse_monotonically(classifier, sprites):
    videos, reference = sprites["real"][0], sprites["reference"][0]
    scores, distances = [], []
    for sigma in (0.0, 1.0, 2.0, 3.0):
        samples = blurred(videos, sigma) if sigma else videos
        scores.append(factor_inception_score(samples, classifier).mean())
        distances.append(frechet_factor_distance(samples, reference, classifier))
    assert np.all(np.diff(scores) < 0), scores
    assert np.all(np.diff(distances) > 0), distances


def test_scores_need_a_fitted_classifier(sprites):
    with pytest.raises(TypeError, match="fitted FactorClassifier"):
        factor_inception_score(sprites["real"][0][:5], FactorClassifier())
