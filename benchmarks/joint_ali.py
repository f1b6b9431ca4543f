"""The joint baseline of the LDF paper: one ALI over the whole object.

LDF's claims (papers/001, section 5.3) are made against "a GAN where the discriminator
sees all of the visible variables directly and the generator outputs all variables in
the visible space directly"; for videos the paper stacks the frames along the channels
(5 frames x 3 colours = 15 channels). :class:`JointALI` is that baseline built from the
same parts and training code as :class:`skdisent.LDFModel`, so the two differ only in
what LDF is about: here a single piece, the whole object, and no upper level.

- The network is LDF's lower-level ALI (same layer rules, widths, reconstruction
  penalties and Roth et al. regulariser) applied to the whole object: a 32x32 image
  gets one more stride-2 layer than a 16x16 patch, as the construction rule says.
- Videos ``(n, T, C, H, W)`` are read as images of ``T * C`` channels.
- ``sample`` draws the code from ``N(0, I)`` and generates the whole object at once.
"""

import torch

from skdisent import LDFModel
from skdisent._data import InputLayout

__all__ = ["JointALI"]


class JointALI(LDFModel):
    """One ALI over whole objects: the joint baseline LDF is compared with.

    Parameters
    ----------
    latent_dim : int, default=64
        Dimension of the code of a whole object. For a fair comparison give it the
        size of LDF's local codes together, ``n_pieces * local_dim``.
    n_epochs, batch_size, learning_rate, conv_channels, dense_units, gradient_penalty, \
reconstruction_weight, shortcut_weight, likelihood, device, warm_start, n_threads, random_state, \
verbose
        As in :class:`skdisent.LDFModel`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 256, (16, 5, 3, 16, 16), dtype=np.uint8)
    >>> model = JointALI(8, n_epochs=1, batch_size=8, conv_channels=4, dense_units=16).fit(X)
    >>> model.network_.lower.observation_shape, model.sample(2).shape
    ((15, 16, 16), (2, 5, 3, 16, 16))
    """

    # LDFModel's parameters that the baseline fixes: one piece, codes of that piece.
    patch_grid = (1, 1)
    representation = "local"
    global_dim = 1
    pretrain_lower = 0
    image_shape = None
    lower_batch_size = None
    precision = "fp32"
    # and what surrounds its training: no checkpoints, NaN stops the fit
    checkpoint_dir = None
    checkpoint_every = 1
    on_nan = "raise"
    nan_lr_factor = 0.5
    max_nan_retries = 0

    def __init__(self, latent_dim=64, *, n_epochs=50, batch_size=64, learning_rate=5e-4,
                 conv_channels=32, dense_units=256, gradient_penalty=1.0,
                 reconstruction_weight=1.0, shortcut_weight=1.0, likelihood="bernoulli",
                 device="auto", warm_start=False, n_threads=None, random_state=None, verbose=0):
        self.latent_dim = latent_dim
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.conv_channels = conv_channels
        self.dense_units = dense_units
        self.gradient_penalty = gradient_penalty
        self.reconstruction_weight = reconstruction_weight
        self.shortcut_weight = shortcut_weight
        self.likelihood = likelihood
        self.device = device
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @property
    def local_dim(self):
        """The code of the single piece: ``latent_dim``."""
        return self.latent_dim

    def _input_layout(self, X):
        layout = super()._input_layout(X)
        if X.ndim == 5:  # frames stacked along the channels, as in the paper's baseline
            frames, channels, height, width = layout.network_shape
            layout = InputLayout(layout.sample_shape, (frames * channels, height, width))
        return layout

    def _trains_upper(self):
        return False

    def _sample_codes(self, n_samples, generator):
        return torch.randn(n_samples, self.latent_dim, generator=generator)
