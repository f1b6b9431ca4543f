"""LDF's training step: the lower level on the step's pieces, then the upper level on their codes.

The two levels are trained on their own objectives with their own optimisers
(papers/001; METHOD.md section 4). Nearly all of a step's time goes to the lower level's
convolutional updates; the upper level's dense layers on the codes take a small share
(``benchmarks/README.md``). So the step does not overlap the two levels (in threads on
CPU, in CUDA streams on a GPU): that could save at most the upper level's share, at the
cost of a step that is no longer one plain, repeatable sequence of updates. What the decoupling does allow is how many lower-level updates a step makes:
``lower_batch_size`` (see :class:`~skdisent.LDFModel`).
"""

import torch

__all__ = ["lower_chunk_size", "train_batch"]


def lower_chunk_size(model, n_pieces):
    """Pieces per lower-level update when a step has ``n_pieces`` pieces.

    Parameters
    ----------
    model : LDFModel
    n_pieces : int
        The step's pieces (its objects' and the extra ones).

    Returns
    -------
    size : int
    """
    size = model.lower_batch_size
    if size is None:
        return model.batch_size
    return n_pieces if size == "all" else int(size)


def train_batch(model, batch, trainer):
    """One step: lower-level updates over the batch's pieces, then one upper-level update.

    Parameters
    ----------
    model : LDFModel
    batch : torch.Tensor or tuple of torch.Tensor
        Objects, or objects and extra single pieces.
    trainer : skdisent.engine.Trainer

    Returns
    -------
    stats : dict of str to torch.Tensor
        Detached means, ``lower_*`` and (when the upper level trains) ``upper_*``.
    """
    x, extra = batch if isinstance(batch, tuple) else (batch, None)
    pieces = model.network_.pieces.cut(x)
    stats, codes = train_lower(model, pieces if extra is None else torch.cat([pieces, extra]),
                               trainer)
    if model._trains_upper():
        # The lower encoder's codes of this step's objects, as it computed them for its
        # own updates: the upper level's data, with no further encoder pass.
        upper_stats, _ = ali_update(model, "upper", codes[: len(pieces)].reshape(len(x), -1),
                                    trainer)
        stats.update({f"upper_{k}": v for k, v in upper_stats.items()})
    return stats


def train_lower(model, pieces, trainer):
    """Lower-level updates over ``pieces``, shuffled, :func:`lower_chunk_size` at a time.

    Returns the mean statistics and every piece's code (detached, in order).
    """
    order = torch.randperm(len(pieces), generator=model._training.generator).to(pieces.device)
    codes = pieces.new_empty((len(pieces), model.network_.local_dim), dtype=torch.float32)
    totals = {}
    for chunk in torch.split(order, lower_chunk_size(model, len(pieces))):
        stats, codes[chunk] = ali_update(model, "lower", pieces[chunk], trainer)
        for key, value in stats.items():
            totals[f"lower_{key}"] = totals.get(f"lower_{key}", 0.0) + value * len(chunk)
    return {key: total / len(pieces) for key, total in totals.items()}, codes


def ali_update(model, level, x, trainer):
    """One update of a level's discriminator, then of its encoder and generator."""
    ali = getattr(model.network_, level)
    z = torch.randn(len(x), ali.latent_dim, generator=model._training.noise_generator,
                    device=x.device)
    loss, stats, codes = ali.losses(
        x, z, lambda d_loss: trainer.optimize(d_loss, f"{level}_discriminator"),
        model.gradient_penalty, model.reconstruction_weight, model.shortcut_weight)
    trainer.optimize(loss, f"{level}_generator")
    return stats, codes.float()
