"""A small convolutional classifier of ground-truth factors: the instrument of the offline sample scores.

The Inception Score and the FID read generated images through an ImageNet classifier; offline,
and on data sets whose factors are known, a classifier trained on those factors plays its part
(:func:`factor_inception_score`, :func:`frechet_factor_distance`). Unlike Inception it is trained
here, in seconds, so its scores compare models only when measured with the same fitted
classifier; its held-out accuracy (``accuracy_``) says how far its readings can be trusted.
"""

import copy
import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._validation import check_factors

_INPUT_DTYPES = (np.uint8, np.float32, np.float64)


def _init_(module, generator):
    """PyTorch's default initialisation of a conv or linear layer, drawn from ``generator``."""
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
    fan_in = module.weight[0].numel()
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def _seed(random_state):
    """An int seed from ``random_state``; None draws fresh entropy, not numpy's global state."""
    if random_state is None:
        return int(np.random.default_rng().integers(2**31))
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(random_state.randint(2**31))  # a RandomState instance, as scikit-learn allows


class _Network(nn.Module):
    """Strided 3x3 convolutions, one hidden layer of features, one linear head per factor."""

    def __init__(self, input_shape, conv_channels, feature_dim, n_values, generator):
        super().__init__()
        layers, channels, (height, width) = [], input_shape[0], input_shape[1:]
        for out in conv_channels:
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1, device="meta"), nn.ReLU()]
            channels, height, width = out, (height + 1) // 2, (width + 1) // 2
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.hidden = nn.Linear(channels * height * width, feature_dim, device="meta")
        self.heads = nn.ModuleList(nn.Linear(feature_dim, int(k), device="meta") for k in n_values)
        self.to_empty(device="cpu")  # built on "meta": no draw from the global generator
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                _init_(module, generator)

    def features(self, x):
        return torch.relu(self.hidden(self.convs(x)))

    def forward(self, x):
        features = self.features(x)
        return [head(features) for head in self.heads]


class FactorClassifier(BaseEstimator):
    """A small CNN that predicts every ground-truth factor of an image or a video.

    The measuring instrument of :func:`factor_inception_score` and
    :func:`frechet_factor_distance`: fit it on real data with known factors (a generated
    data set such as :func:`~skdisent.datasets.make_shapes3d`, or any labelled images), then
    read generated samples with it. Strided 3x3 convolutions with ReLU, a hidden layer of
    ``feature_dim`` units (:meth:`features`, what the Frechet distance compares) and one
    softmax head per factor, trained with Adam on the sum of the heads' cross-entropies.

    A score is only as good as the instrument: check ``accuracy_`` (measured on a held-out
    ``validation_fraction`` of the training data) before trusting one. Require 0.9 or more
    for a factor whose score you report: then a sharp sample of a given value is read as that
    value. A factor the classifier cannot tell apart on real data (too few training images,
    values a few pixels apart at a small size, or values the image does not determine, as the
    orientation of dSprites' square, which repeats every quarter turn) says nothing about
    samples either. More training images and epochs raise the accuracy; so does a larger size.

    Images are ``(n, C, H, W)``, uint8 (read as 0..255) or floats in [0, 1]; videos
    ``(n, T, C, H, W)`` are read with their frames stacked on the channels. Data are
    converted to float one batch at a time, so a uint8 data set stays uint8 in memory.

    Parameters
    ----------
    conv_channels : tuple of int, default=(32, 64, 64)
        Output channels of the convolutions; each halves the height and width.
    feature_dim : int, default=128
        Units of the hidden layer, the dimension of :meth:`features`.
    n_epochs : int, default=20
        Passes over the training part of the data.
    batch_size : int, default=32
        Samples per gradient step, and per batch when reading data.
    learning_rate : float, default=1e-3
        Adam's step size.
    validation_fraction : float, default=0.1
        Part of the data held out of training to measure ``accuracy_``; 0 measures it on the
        training data (an optimistic figure).
    random_state : int or None, default=None
        Seeds the initialisation, the validation split and the shuffling (local generators
        only). Fixed, ``fit`` on CPU repeats itself exactly.
    device : str, default="cpu"
        Torch device of the training and of the readings.

    Attributes
    ----------
    n_values_ : ndarray of shape (n_factors,)
        Values of each factor, ``factors.max(axis=0) + 1`` over the training data.
    accuracy_ : ndarray of shape (n_factors,)
        Held-out accuracy of each head (on the training data if ``validation_fraction=0``).
    input_shape_ : tuple
        Shape of one sample seen in ``fit``.
    network_ : torch.nn.Module
        The trained network.
    n_features_in_ : int
        ``X.shape[1]`` (channels, or frames for videos), as scikit-learn counts it.

    Examples
    --------
    >>> from skdisent.datasets import make_dsprites
    >>> from skdisent.metrics import FactorClassifier
    >>> X, y = make_dsprites(n_samples=200, size=32, random_state=0, return_X_y=True)
    >>> clf = FactorClassifier(n_epochs=1, random_state=0).fit(X, y[:, :1])
    >>> [p.shape for p in clf.predict_proba(X[:5])]
    [(5, 3)]
    >>> clf.features(X[:5]).shape
    (5, 128)
    """

    _parameter_constraints: ClassVar[dict] = {
        "conv_channels": ["array-like"],
        "feature_dim": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
        "device": [str],
    }

    def __init__(self, *, conv_channels=(32, 64, 64), feature_dim=128, n_epochs=20, batch_size=32,
                 learning_rate=1e-3, validation_fraction=0.1, random_state=None, device="cpu"):
        self.conv_channels = conv_channels
        self.feature_dim = feature_dim
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device

    def _validate_images(self, X, *, reset):
        try:
            X = validate_data(self, X, reset=reset, allow_nd=True, dtype=list(_INPUT_DTYPES),
                              ensure_min_samples=1 if not reset else 2)
        except ValueError as error:  # scikit-learn counts an image's channels as its "features"
            if reset or "features, but" not in str(error):
                raise
            X = np.asarray(X)
        if X.ndim not in (4, 5):
            raise ValueError(
                f"{type(self).__name__} reads images (n, C, H, W) or videos (n, T, C, H, W); "
                f"got an array of shape {X.shape}."
            )
        if not reset and X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} was fitted on "
                f"samples of shape {self.input_shape_}."
            )
        if X.dtype != np.uint8 and X.size and (float(X.max()) > 1.0 or float(X.min()) < 0.0):
            raise ValueError(
                f"{type(self).__name__} reads uint8 images as 0..255 and float images as 0..1; X holds "
                f"floats in [{float(X.min()):.4g}, {float(X.max()):.4g}]. Pass uint8, or floats scaled to [0, 1]."
            )
        return X

    def _batch(self, X, rows):
        """Float32 tensor of the rows ``rows``, frames stacked on channels, scaled to [0, 1]."""
        part = torch.from_numpy(np.ascontiguousarray(X[rows]))
        part = part.reshape(len(part), -1, *part.shape[-2:]).to(self.device, torch.float32)
        return part / 255.0 if X.dtype == np.uint8 else part

    def fit(self, X, y):
        """Train the network on images ``X`` and their factors ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
            uint8 images or videos, or floats in [0, 1].
        y : array-like of int, shape (n_samples, n_factors)
            Factor classes (non-negative integers); a 1-D array is one factor.

        Returns
        -------
        self : FactorClassifier
            The fitted classifier.
        """
        self._validate_params()
        channels = [int(c) for c in np.atleast_1d(self.conv_channels)]
        if not channels or min(channels) < 1:
            raise ValueError(f"conv_channels must be a non-empty sequence of positive ints, got {self.conv_channels!r}.")
        X = self._validate_images(X, reset=True)
        y = check_factors(y, len(X), codes_name="X")
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(seed)
        n_valid = round(self.validation_fraction * len(X))
        order = rng.permutation(len(X))
        valid, train = (order[:n_valid], order[n_valid:]) if n_valid else (order, order)
        if len(train) == 0:
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no sample to train on.")
        self.input_shape_ = X.shape[1:]
        self.n_values_ = y.max(axis=0) + 1
        stacked = (int(np.prod(X.shape[1:-2])), *X.shape[-2:])
        self.network_ = _Network(stacked, channels, int(self.feature_dim), self.n_values_, generator)
        self.network_.to(self.device)
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
        targets = torch.from_numpy(y).to(self.device)
        self.network_.train()
        for _ in range(self.n_epochs):
            for start in range(0, len(train), self.batch_size):
                rows = np.sort(train[start:start + self.batch_size])
                logits = self.network_(self._batch(X, rows))
                loss = sum(nn.functional.cross_entropy(out, targets[rows, k]) for k, out in enumerate(logits))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            train = train[torch.randperm(len(train), generator=generator).numpy()]
        self.network_.eval()
        predicted = self._read(X[np.sort(valid)], "predict")
        self.accuracy_ = (predicted == y[np.sort(valid)]).mean(axis=0)
        return self

    def __getstate__(self):
        """Pickle the network on the CPU, so that a pickle loads on a machine without a GPU."""
        state = super().__getstate__()
        if "network_" in state:
            state["network_"] = copy.deepcopy(self.network_).to("cpu")
        return state

    def _read(self, X, what):
        """Run the network over ``X`` one batch at a time: "proba", "predict" or "features"."""
        self.network_.to(self.device)
        parts = []
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                x = self._batch(X, slice(start, start + self.batch_size))
                if what == "features":
                    parts.append(self.network_.features(x).double().cpu().numpy())
                    continue
                logits = self.network_(x)
                if what == "predict":
                    parts.append(np.stack([out.argmax(1).cpu().numpy() for out in logits], axis=1))
                else:
                    parts.append([torch.softmax(out.double(), 1).cpu().numpy() for out in logits])
        if what == "proba":
            return [np.concatenate([p[k] for p in parts]) for k in range(len(self.n_values_))]
        return np.concatenate(parts)

    def predict_proba(self, X):
        """Probabilities of every value of every factor.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
            As in :meth:`fit`.

        Returns
        -------
        probabilities : list of ndarray
            One ``(n_samples, n_values_[k])`` float64 array per factor, rows summing to 1.
        """
        check_is_fitted(self)
        return self._read(self._validate_images(X, reset=False), "proba")

    def predict(self, X):
        """The most probable value of every factor.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
            As in :meth:`fit`.

        Returns
        -------
        factors : ndarray of int, shape (n_samples, n_factors)
            Predicted factor classes.
        """
        check_is_fitted(self)
        return self._read(self._validate_images(X, reset=False), "predict")

    def features(self, X):
        """The hidden layer's activations, the features the Frechet distance compares.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
            As in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_samples, feature_dim)
            float64.
        """
        check_is_fitted(self)
        return self._read(self._validate_images(X, reset=False), "features")

    def score(self, X, y):
        """Mean accuracy over the factors.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, T, C, H, W)
            As in :meth:`fit`.
        y : array-like of int, shape (n_samples, n_factors)
            True factor classes.

        Returns
        -------
        score : float
            The fraction of correct predictions, averaged over the factors.
        """
        predicted = self.predict(X)
        y = check_factors(y, len(predicted), codes_name="X")
        if y.shape[1] != predicted.shape[1]:
            raise ValueError(f"y has {y.shape[1]} factors; the classifier was fitted on {predicted.shape[1]}.")
        return float((predicted == y).mean())
