"""The baseline of the speed benchmarks: a plain PyTorch loop over the same ladder network.

:class:`PlainLoop` trains the :class:`~skdisent.nn.LadderNetwork` that a model builds,
with Adam at the model's learning rate, on batches cut at random from ``uint8`` images
and scaled to [0, 1], minimising the negative log-likelihood plus ``beta`` times the KL
of every level: what a user would write by hand, with no estimator around it. The
benchmarks report the estimators' speed as a ratio to this loop, measured in the same
run (``eager-fp32``: the loop as most people write it; the same setting as the
estimator: the loop overhead of the estimator alone).

The module also holds what the benchmark files share: the reference configuration of
each model, the precision/compile settings, random ``uint8`` data of any size, the
FLOPs of one training step and a subprocess runner that reports peak memory.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

from skdisent import VLAE, BetaVAE, ProVLAE
from skdisent._data import InputLayout
from skdisent.engine.device import resolve_device
from skdisent.models._ladder import training_compile_options

__all__ = [
    "IMAGE_SHAPE",
    "MODELS",
    "SETTINGS",
    "PlainLoop",
    "make_model",
    "random_images",
    "training_flops_per_image",
    "run_in_subprocess",
    "measure_matmul",
    "matmul_target",
]

#: One dSprites image.
IMAGE_SHAPE = (1, 64, 64)

#: The reference configurations of the pro-VLAE paper's dSprites comparison.
MODELS = {
    "BetaVAE": lambda **kw: BetaVAE(n_components=10, depth=3, beta=4.0, **kw),
    "VLAE": lambda **kw: VLAE(levels=3, latent_dim=3, **kw),
    "ProVLAE": lambda **kw: ProVLAE(levels=3, latent_dim=3, fade_in_steps=1, **kw),
}

#: The estimator parameters of each precision/compile setting.
SETTINGS = {
    "eager-fp32": {"precision": "fp32", "compile": False},
    "eager-bf16": {"precision": "bf16", "compile": False},
    "compiled-fp32": {"precision": "fp32", "compile": True},
    "compiled-bf16": {"precision": "bf16", "compile": True},
}


def make_model(name, batch_size, setting="eager-fp32", **params):
    """An estimator of the reference configuration, for speed runs.

    Parameters
    ----------
    name : {"BetaVAE", "VLAE", "ProVLAE"}
        The model.
    batch_size : int
        Samples per training step.
    setting : str, default="eager-fp32"
        A key of :data:`SETTINGS`.
    **params
        Further estimator parameters.

    Returns
    -------
    model : estimator
        Unfitted, ``random_state=0``, on ``$SKDISENT_BENCH_DEVICE`` (default ``"cpu"``)
        unless ``device`` is given, with as many threads as torch has now (the run's
        ``--bench-threads``, like the plain loop) unless ``n_threads`` is given.
    """
    device = os.environ.get("SKDISENT_BENCH_DEVICE", "cpu")
    params = {"device": device, "random_state": 0, "n_threads": torch.get_num_threads(),
              **SETTINGS[setting], **params}
    return MODELS[name](batch_size=batch_size, **params)


def random_images(n_samples, shape=IMAGE_SHAPE, seed=0, chunk=65_536):
    """Random ``uint8`` images, filled a chunk at a time (no temporary of the full size).

    Parameters
    ----------
    n_samples : int
        Number of images.
    shape : tuple of int, default=(1, 64, 64)
        Shape of one image.
    seed : int, default=0
        Seed of the generator.
    chunk : int, default=65536
        Images generated at once.

    Returns
    -------
    X : ndarray of shape (n_samples, *shape), dtype uint8
    """
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, *shape), dtype=np.uint8)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        X[start:stop] = rng.integers(0, 256, size=(stop - start, *shape), dtype=np.uint8)
    return X


def _network(model, shape=IMAGE_SHAPE, channels_last=True):
    if model.likelihood == "auto":
        model.likelihood_ = "bernoulli"  # what fit chooses for the benchmarks' uint8 images
    network = model._build_network(InputLayout(sample_shape=shape, network_shape=shape))
    if not channels_last:
        network = type(network)(**{**network.config, "channels_last": False})
    return network


def training_flops_per_image(model, shape=IMAGE_SHAPE, batch_size=8):
    """Floating-point operations of one training step per image (forward and backward).

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts the
    matrix products and convolutions (two operations per multiply-add) and nothing
    else: element-wise work, batch-norm and the optimiser are left out, as in the
    usual accounting of achieved FLOP/s.

    Parameters
    ----------
    model : estimator
        Its network is built (not fitted) to be counted.
    shape : tuple of int, default=(1, 64, 64)
        One image.
    batch_size : int, default=8
        Batch the count is taken on (the count per image does not depend on it).

    Returns
    -------
    flops : float
    """
    from torch.utils.flop_counter import FlopCounterMode

    network = _network(model, shape)
    x = torch.rand(batch_size, *shape)
    gates = torch.ones(network.depth)
    with FlopCounterMode(display=False) as counter:
        log_likelihood, kl = network(x, gates, gates)
        (kl.sum(dim=1) - log_likelihood).mean().backward()
    return counter.get_total_flops() / batch_size


class PlainLoop:
    """Train a ladder network with a hand-written PyTorch loop.

    Parameters
    ----------
    model : estimator
        Supplies the network (built here, initialised by PyTorch), the learning rate
        and ``beta``; nothing else of the estimator is used.
    batch_size : int
        Samples per step.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs forward and loss under bfloat16 autocast.
    compile : bool or "dynamic", default=False
        Train through ``torch.compile(network)``; ``"dynamic"`` compiles the batch
        dimension as dynamic, as the estimators do, and with the estimators' inductor
        options (:func:`skdisent.models._ladder.training_compile_options`), so that the
        ratio of an estimator to this loop in the same setting measures the loop alone.
    channels_last : bool, default=True
        Train the network as the estimators build it: channels-last memory format,
        feature maps flattened in ``(H, W, C)`` order. ``False``: the classic layout
        of a hand-written ladder (contiguous ``(C, H, W)`` everywhere), the same
        function up to a permutation of some dense weights.
    fused_adam : bool, default=False
        Use Adam's fused implementation rather than PyTorch's default one.
    seed : int, default=0
        Seeds the initial weights, the batches and the noise.
    timer : callable, default=time.perf_counter
        Clock of :meth:`run`: wall time, or ``time.process_time`` for the CPU time
        of this process (steadier on a loaded machine with one thread).
    device : str, default=None
        Where to train; by default the model's ``device`` (``"auto"``: a GPU if any).
    """

    def __init__(self, model, batch_size, *, precision="fp32", compile=False,
                 channels_last=True, fused_adam=False, seed=0, timer=time.perf_counter,
                 device=None):
        self.timer = timer
        self.device = torch.device(device or resolve_device(model.device))
        torch.manual_seed(seed)
        self.network = _network(model, channels_last=channels_last).to(self.device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=model.learning_rate, fused=fused_adam or None
        )
        if compile:
            self.forward = torch.compile(
                self.network, dynamic=compile == "dynamic" or None,
                options=training_compile_options(self.network, precision),
            )
        else:
            self.forward = self.network
        self.batch_size = batch_size
        self.beta = float(model.beta)
        self.bf16 = precision == "bf16"
        self.gates = torch.ones(self.network.depth, device=self.device)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.index_generator = torch.Generator().manual_seed(seed)

    @classmethod
    def in_setting_of(cls, model, batch_size, **options):
        """The loop in the estimator's own setting: the loop overhead of ``model`` alone.

        The same channels-last network, the fused Adam the estimator uses, the
        estimator's precision, and, when it compiles, compiled with a dynamic batch
        dimension as the estimator compiles.

        Parameters
        ----------
        model : estimator
            Supplies the network and its ``precision`` and ``compile`` parameters.
        batch_size : int
            Samples per step.
        **options
            Further arguments of :class:`PlainLoop` (``seed``, ``timer``, ``device``).

        Returns
        -------
        loop : PlainLoop
        """
        return cls(model, batch_size, precision=model.precision,
                   compile="dynamic" if model.compile else False, fused_adam=True,
                   **options)

    def step(self, x):
        """One optimisation step on the float batch ``x``; returns the loss tensor."""
        # The noise is drawn outside the network, which keeps the generator out of a
        # compiled graph (torch.compile breaks the graph at a generator argument).
        noise = self.network.draw_noise(len(x), self.generator, self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            log_likelihood, kl = self.forward(x, self.gates, self.gates, noise=noise)
        loss = -log_likelihood.mean() + self.beta * kl.mean(dim=0).sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss

    def run(self, X, n_steps):
        """Train ``n_steps`` steps on random batches of ``X``; return the seconds taken.

        Parameters
        ----------
        X : torch.Tensor of dtype uint8, shape (n, C, H, W)
            The data; each step cuts, converts and scales one batch.
        n_steps : int
            Optimisation steps.

        Returns
        -------
        seconds : float
        """
        self.network.train()
        started = self.timer()
        for _ in range(n_steps):
            index = torch.randint(len(X), (self.batch_size,), generator=self.index_generator)
            x = X[index].to(self.device, non_blocking=True).float().mul_(1.0 / 255.0)
            loss = self.step(x)
        loss.item()  # the last step is finished
        return self.timer() - started


def run_in_subprocess(code, timeout=3600, env=None):
    """Run Python ``code`` in a fresh interpreter; return its answer and its peak memory.

    ``code`` must leave a JSON-serialisable dict in a variable named ``result``. Peak
    memory is the child's own peak resident set size (``ru_maxrss``), read at its end.

    Parameters
    ----------
    code : str
        Python source.
    timeout : float, default=3600
        Seconds before the child is killed.
    env : dict, default=None
        Extra environment variables.

    Returns
    -------
    result : dict
        The child's ``result``, with ``"peak_rss_bytes"`` added.
    """
    epilogue = (
        "\nimport json as _json, resource as _resource\n"
        "result['peak_rss_bytes'] = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(_json.dumps(result))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code + epilogue], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, check=False,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def matmul_target(precision, n=2048, device=None):
    """A callable that multiplies two ``n x n`` matrices and waits for the result.

    Parameters
    ----------
    precision : {"fp32", "bf16"}
        Element type of the matrices.
    n : int, default=2048
        Side of the matrices.
    device : str, default=None
        Where; by default ``$SKDISENT_BENCH_DEVICE`` or the CPU.

    Returns
    -------
    target : callable
        Takes no argument; one call is ``2 n**3`` floating-point operations.
    """
    device = torch.device(device or os.environ.get("SKDISENT_BENCH_DEVICE", "cpu"))
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(device, dtype)
    b = torch.randn(n, n, generator=generator).to(device, dtype)
    out = torch.empty(n, n, dtype=dtype, device=device)

    def target():
        torch.mm(a, b, out=out)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return target


def measure_matmul(precision, n=2048, rounds=20, device=None):
    """GFLOP/s of ``torch.mm`` on ``n x n`` matrices: the median of ``rounds``.

    The median, not the best: on a shared machine a rare product runs at two or three
    times the usual rate (bf16 on this project's 2-core machine: medians of 633-875
    GFLOP/s for products of side 2048, single ones up to 2,350), a rate no training step
    of seconds can sustain; training figures are medians too.

    Parameters
    ----------
    precision : {"fp32", "bf16"}
        Element type of the matrices.
    n : int, default=2048
        Side of the matrices.
    rounds : int, default=20
        Timed products (after two untimed ones).
    device : str, default=None
        Where; by default ``$SKDISENT_BENCH_DEVICE`` or the CPU.

    Returns
    -------
    gflop_s : float
    """
    target = matmul_target(precision, n, device)
    for _ in range(2):
        target()
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        target()
        seconds.append(time.perf_counter() - started)
    return 2 * n**3 / float(np.median(seconds)) / 1e9
