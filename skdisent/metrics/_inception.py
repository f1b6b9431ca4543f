"""The Inception Score and the FID the standard way, from Inception weights the user has locally.

The network is the Inception-v3 graph of TensorFlow's 2015-12-05 release that the reference code
of both scores uses (Salimans et al. 2016; Heusel et al. 2017), as pytorch-fid and torch-fidelity
port it to PyTorch: the same layers and parameter names, so the weights file of either loads
(``pt_inception-2015-12-05-6726825d.pth`` of pytorch-fid, ``weights-inception-2015-12-05-6726825d.pth``
of torch-fidelity). Images are resized to 299x299 by TensorFlow 1's bilinear rule and scaled by
``(x - 128) / 128``, as torch-fidelity does; the FID compares the 2048 pooled features, the
Inception Score reads the softmax of the 1008 logits without the final bias, over 10 splits in
order (the reference code does not shuffle; torch-fidelity does).

It is written here rather than taken from those libraries because both import torchvision, whose
builds are tied to one torch build. Nothing is downloaded unless ``weights="download"`` asks for
it; weights load with ``torch.load(..., weights_only=True)``, which runs no code from the file.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._sample_quality import (
    frechet_distance,
    image_statistics,
    inception_score_of_probabilities,
)

WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)
_SIZE = 299


class _Conv(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: TensorFlow's conv block."""

    def __init__(self, c_in, c_out, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)  # TensorFlow's padding


class _BlockA(nn.Module):
    def __init__(self, c_in, pool_features):
        super().__init__()
        self.branch1x1 = _Conv(c_in, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(c_in, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(c_in, pool_features, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))], 1)


class _BlockB(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.branch3x3 = _Conv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _Conv(64, 96, 3, padding=1), _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class _BlockC(nn.Module):
    def __init__(self, c_in, c7):
        super().__init__()
        row, col = {"kernel_size": (1, 7), "padding": (0, 3)}, {"kernel_size": (7, 1), "padding": (3, 0)}
        self.branch1x1 = _Conv(c_in, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = _Conv(c_in, c7, 1), _Conv(c7, c7, **row), _Conv(
            c7, 192, **col)
        self.branch7x7dbl_1, self.branch7x7dbl_2 = _Conv(c_in, c7, 1), _Conv(c7, c7, **col)
        self.branch7x7dbl_3, self.branch7x7dbl_4 = _Conv(c7, c7, **row), _Conv(c7, c7, **col)
        self.branch7x7dbl_5 = _Conv(c7, 192, **row)
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        double = x
        for k in range(1, 6):
            double = getattr(self, f"branch7x7dbl_{k}")(double)
        return torch.cat([self.branch1x1(x), self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))), double,
                          self.branch_pool(_avg_pool(x))], 1)


class _BlockD(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(c_in, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(c_in, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        seven = x
        for k in range(1, 5):
            seven = getattr(self, f"branch7x7x3_{k}")(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockE(nn.Module):
    def __init__(self, c_in, max_pool):
        super().__init__()
        self.max_pool = max_pool  # the last block of TensorFlow's graph max-pools where the paper averages
        self.branch1x1 = _Conv(c_in, 320, 1)
        self.branch3x3_1 = _Conv(c_in, 384, 1)
        self.branch3x3_2a, self.branch3x3_2b = _Conv(384, 384, (1, 3), padding=(0, 1)), _Conv(
            384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = _Conv(c_in, 448, 1), _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a, self.branch3x3dbl_3b = _Conv(384, 384, (1, 3), padding=(0, 1)), _Conv(
            384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(single), self.branch3x3_2b(single),
                          self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double), self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """TensorFlow's 2015 Inception-v3 as the FID and the Inception Score use it; returns (pool, logits)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _BlockA(192, 32), _BlockA(256, 64), _BlockA(288, 64)
        self.Mixed_6a = _BlockB(288)
        self.Mixed_6b, self.Mixed_6c = _BlockC(768, 128), _BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = _BlockC(768, 160), _BlockC(768, 192)
        self.Mixed_7a = _BlockD(768)
        self.Mixed_7b, self.Mixed_7c = _BlockE(1280, max_pool=False), _BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, images):
        """``images`` float (n, 3, H, W) in 0..255: the 2048 pooled features and the unbiased logits."""
        x = (_resize_like_tensorflow1(images, _SIZE) - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        pool = x.mean(dim=(2, 3))
        return pool, pool @ self.fc.weight.T


def _resize_like_tensorflow1(x, size):
    """Bilinear resize as TensorFlow 1's ``resize_bilinear(align_corners=False)``: source = target * in / out."""
    for axis, n_in in ((3, x.shape[3]), (2, x.shape[2])):  # along the rows first, as TensorFlow
        position = torch.arange(size, dtype=x.dtype, device=x.device) * torch.tensor(n_in / size, dtype=torch.float32)
        low = position.long()
        high = (low + 1).clamp_max(n_in - 1)
        shape = [1, 1, 1, 1]
        shape[axis] = size
        weight = (position - low.to(x.dtype)).view(shape)
        a, b = x.index_select(axis, low), x.index_select(axis, high)
        x = a + (b - a) * weight
    return x


def _load_network(weights, device, caller):
    """The network with ``weights``: a path, a state dict, or "download" (an explicit request)."""
    if weights is None:
        raise ValueError(
            f"{caller} needs the weights of TensorFlow's 2015 Inception-v3 as ported to PyTorch. Pass "
            "weights='path/to/file.pth' (pytorch-fid's pt_inception-2015-12-05-6726825d.pth or torch-fidelity's "
            "weights-inception-2015-12-05-6726825d.pth), a state dict, or weights='download' to download "
            f"{WEIGHTS_URL} (92 MB) into torch.hub's cache. Nothing was downloaded."
        )
    if isinstance(weights, str) and weights == "download":
        state = torch.hub.load_state_dict_from_url(WEIGHTS_URL, map_location="cpu", check_hash=True, weights_only=True)
    elif isinstance(weights, dict):
        state = weights
    elif isinstance(weights, (str, os.PathLike)):
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"No Inception weights at {weights}. Nothing was downloaded.")
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(weights)
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
    else:
        raise TypeError(f"weights must be a path, a state dict or 'download'; got {type(weights).__name__}.")
    with torch.device("meta"):
        network = FIDInception()  # on "meta": no draw from the global generator
    expected = network.state_dict()
    state = {k: v for k, v in state.items()}
    for key in expected:  # files saved before batch norm counted its batches lack the counter
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.tensor(0)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected or any(state[k].shape != expected[k].shape for k in expected):
        raise ValueError(
            f"weights are not those of the FID Inception-v3: {len(missing)} parameters missing "
            f"({missing[:3]}), {len(unexpected)} unexpected ({unexpected[:3]}), or shapes differ."
        )
    network.load_state_dict(state, assign=True)
    return network.to(device).eval()


def _check_images(images, caller):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype not in (np.uint8, np.float32, np.float64):
        raise ValueError(
            f"{caller} reads RGB images (n, 3, H, W), uint8 or floats in [0, 1]; got {images.dtype} {images.shape}."
        )
    return images


def _inception_outputs(images, network, batch_size, device):
    """Pooled features (n, 2048) and unbiased logits (n, 1008), float64, one batch at a time."""
    pools, logits = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device, torch.float32)
            pool, logit = network(x if images.dtype == np.uint8 else x * 255)
            pools.append(pool.double().cpu().numpy())
            logits.append(logit.double().cpu().numpy())
    return np.concatenate(pools), np.concatenate(logits)


def inception_score(images, *, weights=None, n_splits=10, batch_size=50, device="cpu", return_std=False):
    """The Inception Score of Salimans et al. (2016), the standard way, from local Inception weights.

    ``exp(E_x KL(p(y | x) || p(y)))`` over the 1008 classes of TensorFlow's 2015 Inception-v3
    (the softmax of its logits without the final bias, as the reference code), computed on
    ``n_splits`` consecutive splits and averaged. Between 1 and 1008; published figures use
    50,000 samples in 10 splits (about 11.2 for the CIFAR-10 training images).

    Parameters
    ----------
    images : array-like of shape (n_samples, 3, H, W)
        RGB images, uint8 or floats in [0, 1]; resized to 299x299 inside.
    weights : str, path-like, dict or "download"
        The network's weights: a local file (pytorch-fid's or torch-fidelity's ``.pth``, or a
        ``.safetensors`` of the same names), a state dict already loaded (to load once for many
        calls), or ``"download"`` to fetch torch-fidelity's file (92 MB, hash checked) into
        torch.hub's cache. Without it, a ``ValueError`` says how to provide it; nothing is
        ever downloaded unasked.
    n_splits : int, default=10
        Splits of the samples, as the reference code.
    batch_size : int, default=50
        Images per forward pass.
    device : str, default="cpu"
        Torch device of the network.
    return_std : bool, default=False
        Also return the standard deviation over the splits.

    Returns
    -------
    score : float
        The mean over the splits.
    std : float
        The standard deviation over the splits, if ``return_std``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import inception_score
    >>> images = np.zeros((10, 3, 32, 32), dtype=np.uint8)
    >>> inception_score(images)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: inception_score needs the weights of TensorFlow's 2015 Inception-v3 ...
    >>> inception_score(images, weights="pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
    """
    images = _check_images(images, "inception_score")
    network = _load_network(weights, device, "inception_score")
    logits = _inception_outputs(images, network, batch_size, device)[1]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    score = inception_score_of_probabilities(probabilities, n_splits)  # checks n_splits
    if not return_std:
        return score
    n = len(probabilities)
    splits = [inception_score_of_probabilities(probabilities[k * n // n_splits:(k + 1) * n // n_splits])
              for k in range(n_splits)]
    return score, float(np.std(splits))


def frechet_inception_distance(images, reference, *, weights=None, batch_size=50, device="cpu"):
    """The FID of Heusel et al. (2017), the standard way, from local Inception weights.

    Gaussians fitted to the 2048 pooled features of TensorFlow's 2015 Inception-v3 for the two
    sets, compared with the Frechet distance (pytorch-fid's formula). Biased upwards for few
    samples: published figures use 10,000 to 50,000.

    Parameters
    ----------
    images : array-like or tuple
        The samples: RGB images ``(n_samples, 3, H, W)``, uint8 or floats in [0, 1]; or their
        Inception features ``(n_samples, 2048)``; or ``(mean, covariance)``.
    reference : array-like or tuple
        The real data, in any of the same forms (statistics computed once can be reused).
    weights : str, path-like, dict or "download"
        As in :func:`inception_score`; needed unless both sets are features or statistics.
    batch_size : int, default=50
        Images per forward pass.
    device : str, default="cpu"
        Torch device of the network.

    Returns
    -------
    distance : float
        The FID (not clipped at 0, as pytorch-fid).

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import frechet_inception_distance
    >>> rng = np.random.default_rng(0)
    >>> samples, real = (rng.integers(0, 256, (100, 3, 32, 32), dtype=np.uint8) for _ in range(2))
    >>> fid = frechet_inception_distance(samples, real, weights="pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP

    Statistics of the real data, computed once, serve for many sets of samples:

    >>> features = rng.normal(size=(500, 2048))  # as ``weights`` would give for real images
    >>> statistics = (features.mean(axis=0), np.cov(features, rowvar=False))
    >>> fid = frechet_inception_distance(samples, statistics, weights="pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
    """
    network = []

    def features(data):
        data = _check_images(data, "frechet_inception_distance")
        if not network:
            network.append(_load_network(weights, device, "frechet_inception_distance"))
        return _inception_outputs(data, network[0], batch_size, device)[0]

    mu1, sigma1 = image_statistics(images, features, "images")
    mu2, sigma2 = image_statistics(reference, features, "reference")
    if mu1.shape != mu2.shape:
        raise ValueError(f"images and reference have features of {len(mu1)} and {len(mu2)} dimensions.")
    return frechet_distance(mu1, sigma1, mu2, sigma2)
