"""The docstring of :class:`~skdisent.NVAE` (kept apart: the model file reads as the method)."""

import re

from ._ladder import COMMON_PARAMETERS

__all__ = ["NVAE_DOC"]

# The shared docs from image_shape on (likelihood, batch_size, learning_rate and the
# ladder's network choices are NVAE's own).
_SHARED = COMMON_PARAMETERS[COMMON_PARAMETERS.index("image_shape :"):]
_SHARED = re.sub(r"\n    initialization : .*?(?=\n    image_shape :)", "", _SHARED, flags=re.DOTALL)

NVAE_DOC = """NVAE: a deep hierarchical VAE (Vahdat and Kautz 2020).

    Groups of spatial latents at ``n_scales`` scales, generated top-down: the top
    group from ``N(0, I)``, each later group from a Gaussian prior computed from the
    features of the groups above it, ``p(z) = prod_g p(z_g | z_<g)``. A bidirectional
    encoder computes the posterior of each group from the data's features, combined
    with the same top-down features, ``q(z_g | x, z_<g)``. Cells are residual (batch
    norm, Swish, squeeze-and-excitation; depthwise separable convolutions in the
    generative cells). The loss is the negative ELBO with KL warm-up and KL balancing,
    plus the spectral regulariser.

    What follows the reference code (NVlabs/NVAE, architecture ``res_mbconv``, with
    ``--use_se --res_dist --ada_groups``):

    - cells, combiners, the learned top feature map, weight-normalised convolutions
      and the heads of the priors and posteriors as the code builds them
      (:mod:`skdisent.nn.nvae`);
    - the residual normal posterior ``q = N(mu_p + dmu, exp(log_sigma_p +
      dlog_sigma))``, with the code's soft clamp and ``sigma = exp(.) + 0.01`` (so the
      top prior is ``N(0, 1.01^2)``), and the KL of each group in closed form;
    - the spectral regulariser: ``spectral_regularization`` times the sum of the
      largest singular values of every convolution's weight (4 power iterations a
      step, 40 at the first) plus the largest ``|gamma|`` of every batch norm;
    - KL warm-up (``kl_anneal_portion``, ``kl_const_portion``, ``kl_const_coeff``)
      and, during it, KL balancing with the code's ``alpha`` (``fun="square"``);
    - Adamax (``eps=1e-3``, ``weight_decay``), a linear learning-rate warm-up over
      ``warmup_epochs`` and cosine annealing to ``learning_rate_min``;
    - likelihoods: the discretised logistic mixture for 8-bit images
      (``likelihood="logistic_mixture"``; RGB, and, our extension, grey), or the
      library's Bernoulli or Gaussian (a learned scale) so that the scores compare
      with the other models.

    Scaled down or left out: the default sizes (a small network for 32x32 images on
    a CPU in minutes; :func:`skdisent.models.nvae_preset` gives the paper's CelebA
    64x64 setting); the normalising flows (``num_nf``), the memory savings, the
    data-dependent initialisation of the ``res_elu`` cells and the annealed weight of
    the regulariser (``--weight_decay_norm_anneal``) are not implemented; the batch
    statistics are not re-estimated before sampling (the code's optional
    ``--readjust_bn``): :meth:`sample` uses the running statistics. ``compile=True``
    compiles the training pass only; the regulariser and the inference passes run
    eagerly.

    The groups are numbered as the ladder models' levels, from the data up: group 1
    is the last generated, at the finest scale, and the last group the top. Columns
    of :meth:`transform`, ``latent_dims_``, ``level_slices()``, ``kl_<g>`` in
    ``history_`` and :func:`skdisent.hierarchy.layer_variation` all follow that
    order; feature names say ``scale<s>_group<g>_z<j>``, scale 1 the finest. A
    group's columns flatten its ``(channels, height, width)`` latents.

    - ``transform`` returns the posterior means of every group, computed top-down
      with each earlier group at its posterior mean: deterministic, and a row's code
      does not depend on the other rows. ``posterior`` gives the same means and the
      log-variances of ``q(z_g | x, z_<g)`` at those means.
    - ``inverse_transform`` decodes codes of every group (the decoder reads them all);
      ``codes_from_noise`` maps standard normal noise to codes of the prior, and
      ``sample(n, temperature=t)`` decodes those, every prior's standard deviation
      times ``t`` as in the code.
    - ``score`` is the ELBO from one draw of every group, with every KL weight 1.

    Parameters
    ----------
    n_scales : int, default=2
        Spatial scales of latent groups (the code's ``num_latent_scales``; CelebA 64:
        3).
    groups_per_scale : int, default=2
        Groups at the finest scale (``num_groups_per_scale``; CelebA 64: 20).
    adaptive_groups : bool, default=True
        Halve the groups at each coarser scale (``--ada_groups``).
    min_groups_per_scale : int, default=1
        The fewest groups a scale keeps (``min_groups_per_scale``).
    latent_per_group : int, default=4
        Latent channels per group (``num_latent_per_group``; CelebA 64: 20).
    channels : int, default=16
        Channels after the stem, doubled at each down-sampling
        (``num_channels_enc`` and ``num_channels_dec``; CelebA 64: 64).
    cells_per_group : int, default=1
        Cells before each group, in the encoder and in the decoder
        (``num_cell_per_cond_enc``, ``_dec``; CelebA 64: 2).
    process_blocks : int, default=2
        Down-sampling blocks before the latent scales, up-sampling blocks after
        (``num_preprocess_blocks``, ``num_postprocess_blocks``; CelebA 64: 1). The
        top group's side is the image's over ``2 ** (process_blocks + n_scales - 1)``.
    process_cells : int, default=1
        Cells per such block (``num_preprocess_cells``, ``_postprocess_``; CelebA 64: 2).
    use_se : bool, default=True
        Squeeze-and-excitation in every cell.
    residual_posterior : bool, default=True
        The residual normal posterior (``--res_dist``); False parameterises ``q`` on
        its own.
    likelihood : {"auto", "bernoulli", "gaussian", "logistic_mixture"}, default="auto"
        Observation model. ``"auto"``: Bernoulli for ``uint8`` data or floats in
        [0, 1], Gaussian (one learned scale) otherwise. ``"logistic_mixture"``: the
        code's discretised logistic mixture for 8-bit images of 1 or 3 channels.
    n_mixtures : int, default=10
        Components of the logistic mixture (``num_mixture_dec``).
    beta : float, default=1.0
        Weight of the KL term after warm-up and balancing: 1 is the reference's ELBO;
        other values (not in the paper) put NVAE in the beta grids of the other models.
    n_epochs : int, default=10
        Passes over the data (CelebA 64: 90).
    batch_size : int, default=32
        Samples per step (CelebA 64: 16 per GPU on 8 GPUs).
    learning_rate : float, default=1e-2
        Adamax's rate after the warm-up (the code's default).
    learning_rate_min : float, default=1e-4
        Where the cosine annealing ends.
    warmup_epochs : int, default=1
        Epochs of linear learning-rate warm-up from 0 (the code: 5).
    weight_decay : float, default=3e-4
        Adamax's weight decay.
    kl_anneal_portion : float, default=0.3
        Portion of all steps over which the KL coefficient rises to 1.
    kl_const_portion : float, default=1e-4
        Portion of all steps the KL coefficient stays at ``kl_const_coeff`` first.
    kl_const_coeff : float, default=1e-4
        The smallest KL coefficient.
    kl_balance : bool, default=True
        Balance the groups' KL terms during the warm-up.
    spectral_regularization : float, default=1e-2
        Weight of the spectral and batch-norm regulariser (``--weight_decay_norm``:
        1e-2 for MNIST and CIFAR-10, 1e-1 for CelebA 64); 0 switches it off.
    power_iterations : int, default=4
        Power iterations per step for the largest singular values.
    information_rows : int >= 2 or None, default=512
        Rows of the training data (evenly spaced) on which ``I(x; z_g)`` per group is
        estimated at the end of an epoch; None: all rows.
    information_every : int, default=1
        Estimate it every this many epochs; 0: never (the estimate costs a pass over
        ``information_rows`` rows and the sampling estimator over each group's
        columns, much for the CelebA preset).
    %s

    Attributes
    ----------
    network_ : NVAENetwork
        The trained torch module (on CPU after unpickling).
    n_components_ : int
        Latent dimensions of all groups together.
    latent_dims_ : tuple of int
        Latent dimensions of each group, from the data up.
    group_shapes_ : tuple of tuple of int
        ``(channels, height, width)`` of each group's latents, from the data up.
    likelihood_ : str
        The observation model in use.
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``loss`` (the objective: the
        warmed-up, balanced KL and the regulariser included), ``nelbo`` (negative ELBO
        per sample), ``reconstruction``, ``kl_<g>`` per group, ``kl_weight_<g>`` (the
        balancing weights), ``kl_coefficient``, ``learning_rate``,
        ``regularization``, and, when estimated, ``information_<g>`` (``I(x; z_g)``
        in nats), ``information_total`` and ``information_rows``; ``time``,
        ``images_per_s`` and ``threads``. Values are means over the epoch's steps.
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of optimisation steps run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one sample seen in ``fit``.

    See Also
    --------
    VLAE, ProVLAE : ladders with independent Gaussian levels.
    HierarchicalVAE : a chain of dense Gaussian layers.
    skdisent.hierarchy.layer_variation : what each group's noise changes.
    skdisent.plotting.plot_group_training : KL and information per group over the fit.

    References
    ----------
    Vahdat and Kautz, "NVAE: A Deep Hierarchical Variational Autoencoder", NeurIPS
    2020; code at github.com/NVlabs/NVAE.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import NVAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = NVAE(channels=8, n_epochs=1, random_state=0).fit(X)
    >>> model.latent_dims_
    (64, 64, 16)
    >>> model.transform(X).shape
    (64, 144)
    >>> model.sample(2, temperature=0.7).shape
    (2, 1, 16, 16)
    """ % _SHARED
