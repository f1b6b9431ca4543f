"""The autoencoders of Lezama's teacher-student model, and its supervision losses.

Lezama (2019), "Overcoming the disentanglement vs reconstruction trade-off via Jacobian
supervision" (ICLR 2019); the networks are those of its authors' code
(``jlezama/disentangling-jacobian``, ``unsupervised_disentangling/models.py``): a ReLU
perceptron of widths 256, 128 and 64 from the flattened image to the code, and its mirror
back. The first teacher normalises its code with a batch norm without affine parameters;
the students do not.

A growing latent code is held here at its final size: :class:`DenseAutoencoder` masks
the latents not yet added (they are read as 0 and give 0), so that the weights keep one
shape for the whole fit (one optimiser, checkpoints and roll-backs of one layout), and
:meth:`TeacherStudentNetwork.grow` does what the reference does when it builds a student:
the trained network becomes the frozen teacher, and the student keeps its weights, with
the rows and columns of the new latents drawn afresh.
"""

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .likelihoods import make_likelihood

__all__ = ["CodeStatistics", "DenseAutoencoder", "TeacherStudentNetwork",
           "cross_covariance_loss", "jacobian_supervision_loss", "swap_factors"]


def _dense_stack(widths):
    layers = []
    for n_in, n_out in itertools.pairwise(widths[:-1]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-2], widths[-1]))
    return nn.Sequential(*layers)


class DenseAutoencoder(nn.Module):
    """One autoencoder of the reference, with ``n_components`` latents of which some are active.

    Parameters
    ----------
    n_features : int
        Size of a flattened input.
    n_components : int
        Latents at the end of the growth.
    hidden_units : sequence of int
        Widths of the encoder's hidden layers (the decoder's in reverse order).
    variational : bool
        The encoder gives a mean and a log-variance per latent (a Gaussian posterior)
        rather than the code itself.
    """

    def __init__(self, n_features, n_components, hidden_units, variational):
        super().__init__()
        self.n_components = n_components
        self.variational = variational
        widths = [n_features, *hidden_units]
        self.encoder = _dense_stack([*widths, n_components * (2 if variational else 1)])
        self.code_norm = nn.BatchNorm1d(n_components, affine=False)
        self.decoder = _dense_stack([n_components, *widths[::-1]])

    def _mask(self, n_active, like):
        return (torch.arange(self.n_components, device=like.device) < n_active).to(like.dtype)

    def encode(self, x, n_active, normalize=False, batch_statistics=False):
        """Posterior means (the codes) and log-variances (None unless variational).

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
        n_active : int
            Latents in use; the others are 0 (log-variances 0: the prior).
        normalize : bool, default=False
            Pass the code through the batch norm (the reference's first teacher).
        batch_statistics : bool, default=False
            Normalise with the batch's statistics, leaving the running ones untouched (a
            teacher in training mode, as the reference's).
        """
        h = self.encoder(x.flatten(1))
        mean, logvar = h.chunk(2, dim=1) if self.variational else (h, None)
        if normalize and batch_statistics:
            mean = F.batch_norm(mean, None, None, training=True, eps=self.code_norm.eps)
        elif normalize:
            mean = self.code_norm(mean)
        mask = self._mask(n_active, mean)
        return mean * mask, None if logvar is None else logvar * mask

    def decode(self, z, n_active):
        """Decoder outputs (flat) of codes ``z``, whose inactive latents are ignored."""
        return self.decoder(z * self._mask(n_active, z))

    @torch.no_grad()
    def draw_latents(self, start, stop, generator, decoder_bias=False):
        """Draw the weights of latents ``start..stop-1`` as a fresh network of ``stop`` has them.

        PyTorch's default initialisation: uniform in ``+-1/sqrt(fan_in)``, ``fan_in`` being
        the encoder's last hidden width for the rows of the code layer and ``stop`` for
        the columns of the decoder's first layer (and its bias when ``decoder_bias``).
        """
        head, first = self.encoder[-1], self.decoder[0]
        rows = [slice(start, stop)]
        if self.variational:
            rows.append(slice(self.n_components + start, self.n_components + stop))
        bound = 1.0 / math.sqrt(head.in_features)
        for part in rows:
            for tensor in (head.weight[part], head.bias[part]):
                tensor.copy_(_uniform(tensor.shape, bound, generator))
        bound = 1.0 / math.sqrt(stop)
        columns = first.weight[:, start:stop]
        columns.copy_(_uniform(columns.shape, bound, generator))
        if decoder_bias:
            first.bias.copy_(_uniform(first.bias.shape, bound, generator))


def _uniform(shape, bound, generator):
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


class CodeStatistics(nn.Module):
    """Mean and standard deviation of each latent over the training codes (buffers).

    A deterministic code has no prior: ``sample`` draws from a Gaussian with these.
    """

    def __init__(self, n_components):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_components))
        self.register_buffer("std", torch.ones(n_components))

    def reset_parameters(self):
        """The standard normal (the statistics before any code is measured)."""
        self.mean.zero_()
        self.std.fill_(1.0)

    @torch.no_grad()
    def update(self, codes):
        """Measure the first ``codes.shape[1]`` latents on ``codes`` (rows), in float64."""
        codes = torch.as_tensor(codes, dtype=torch.float64)
        n = codes.shape[1]
        self.mean[:n] = codes.mean(dim=0).to(self.mean)
        self.std[:n] = codes.std(dim=0, correction=0).to(self.std)


class TeacherStudentNetwork(nn.Module):
    """The student being trained, its frozen teacher, the likelihood and the code's statistics.

    Parameters
    ----------
    input_shape : tuple of int
        One sample as the network sees it; it is flattened.
    n_components : int
        Latents at the end of the growth.
    hidden_units : sequence of int, default=(256, 128, 64)
        The reference's widths.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
    variational : bool, default=False
        Gaussian posteriors (a VAE) rather than deterministic codes.
    """

    def __init__(self, input_shape, n_components, hidden_units=(256, 128, 64),
                 likelihood="bernoulli", variational=False):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_components = int(n_components)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.likelihood_name = likelihood
        self.variational = bool(variational)
        args = (math.prod(self.input_shape), self.n_components, self.hidden_units,
                self.variational)
        self.student = DenseAutoencoder(*args)
        self.teacher = DenseAutoencoder(*args)
        self.teacher.requires_grad_(False)
        self.likelihood = make_likelihood(likelihood)
        self.code_statistics = CodeStatistics(self.n_components)

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {"input_shape": list(self.input_shape), "n_components": self.n_components,
                "hidden_units": list(self.hidden_units), "likelihood": self.likelihood_name,
                "variational": self.variational}

    def trainable_parameters(self):
        """What the optimiser updates: the student and the likelihood (never the teacher)."""
        return [*self.student.parameters(), *self.likelihood.parameters()]

    def grow(self, n_teacher, n_active, generator):
        """The student becomes the teacher, and latents ``n_teacher..n_active-1`` join the student.

        Parameters
        ----------
        n_teacher : int
            Latents of the student so far, now the teacher's.
        n_active : int
            Latents of the new student.
        generator : torch.Generator
            CPU generator of the new latents' weights.
        """
        self.teacher.load_state_dict(self.student.state_dict())
        self.student.draw_latents(n_teacher, n_active, generator)

    def mean(self, output):
        """The likelihood's mean (pixel values) of decoder outputs, float32."""
        return self.likelihood.mean(output.float())


def swap_factors(codes, n_factors, permutation):
    """Codes whose first ``n_factors`` latents are those of the rows ``permutation``.

    The reference's "swap": each row keeps its nuisance latents (the student's new ones)
    and takes the factor latents (the teacher's) of another row of the batch.

    Parameters
    ----------
    codes : torch.Tensor of shape (n, d)
    n_factors : int
    permutation : torch.Tensor of shape (n,)

    Returns
    -------
    swapped : torch.Tensor of shape (n, d)
    """
    return torch.cat([codes[permutation, :n_factors], codes[:, n_factors:]], dim=1)


def jacobian_supervision_loss(student, student_swapped, teacher, teacher_swapped):
    """Lezama's difference loss: the student's output must change as the teacher's does.

    For a pair of samples whose factor latents are swapped, the change of the teacher's
    output is the target of the change of the student's output (the nuisance latents
    held fixed): ``mean((d_teacher - d_student)^2)`` over the output values, with
    ``d = output(z) - output(z swapped)``. It is the finite-difference form of asking the
    student's Jacobian with respect to the factors to equal the teacher's. The teacher's
    difference is a constant (no gradient).

    Parameters
    ----------
    student, student_swapped : torch.Tensor of shape (n, ...)
        The student's outputs (pixel values) before and after the swap.
    teacher, teacher_swapped : torch.Tensor of shape (n, ...)
        The teacher's.

    Returns
    -------
    loss : torch.Tensor of shape (n,)
        Mean squared difference per sample.
    """
    target = (teacher - teacher_swapped).detach()
    return (target - (student - student_swapped)).pow(2).flatten(1).mean(dim=1)


def cross_covariance_loss(a, b):
    """The reference's "xcov" loss: the Frobenius norm of the cross-covariance of ``a`` and ``b``.

    ``||(a - mean(a))^T (b - mean(b))||_F / n`` over a batch of ``n`` rows: 0 when every
    column of ``a`` is uncorrelated with every column of ``b`` in the batch.

    Parameters
    ----------
    a : torch.Tensor of shape (n, p)
    b : torch.Tensor of shape (n, q)

    Returns
    -------
    loss : torch.Tensor (a scalar)
    """
    a = a - a.mean(dim=0)
    b = b - b.mean(dim=0)
    return torch.linalg.matrix_norm(a.T @ b) / len(a)
