"""Refusing non-finite losses without making a GPU wait at every step."""

import torch

__all__ = ["NonFiniteLossError", "FiniteCheck", "CHECK_EVERY"]

#: Steps between two reads of the losses' finiteness on a GPU.
CHECK_EVERY = 32


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss.

    The model that raised it keeps the weights, optimiser state and history of its
    last completed epoch, so it can still transform, be saved, or be refitted with
    ``warm_start=True`` and a lower learning rate.
    """


class FiniteCheck:
    """Raises :class:`NonFiniteLossError` for a NaN or infinite loss.

    On the CPU each loss is checked at once (reading it costs nothing there). On a
    GPU, reading a loss would make the host wait for the device at every step, so
    the losses' finiteness is gathered on the device and read every
    :data:`CHECK_EVERY` steps and at the end of the epoch (:meth:`flush`); the
    trainer rolls back the whole epoch all the same.

    Parameters
    ----------
    device : torch.device
        Where the losses are.
    """

    def __init__(self, device):
        self.deferred = self.defers(device)
        self._pending = None  # (any non-finite so far, first step, last step)

    @staticmethod
    def defers(device):
        """Whether losses on ``device`` are checked in groups."""
        return device.type != "cpu"

    def check(self, loss, epoch, step):
        """Check ``loss``, the loss of optimisation step ``step`` (1-based) of ``epoch``.

        Parameters
        ----------
        loss : torch.Tensor
            A scalar.
        epoch, step : int
            Named in the error message.
        """
        loss = loss.detach()
        if not self.deferred:
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"Training produced a non-finite loss ({float(loss):.4g}) at epoch {epoch}, "
                    f"step {step}."
                )
            return
        bad = ~torch.isfinite(loss)
        first = step
        if self._pending is not None:
            bad = bad | self._pending[0]
            first = self._pending[1]
        self._pending = (bad, first, step)
        if step - first + 1 >= CHECK_EVERY:
            self.flush(epoch)

    def flush(self, epoch):
        """Read the finiteness gathered since the last read; raise if a loss was not finite."""
        pending, self._pending = self._pending, None
        if pending is not None and bool(pending[0]):
            raise NonFiniteLossError(
                f"Training produced a non-finite loss at epoch {epoch}, between steps "
                f"{pending[1]} and {pending[2]}."
            )

    def reset(self):
        """Forget what was gathered (the epoch is being rolled back)."""
        self._pending = None
