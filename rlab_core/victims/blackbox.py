"""The black-box wrapper: a victim seen only through its probabilities, every query counted.

Attacks never count queries themselves: they hold a :class:`BlackBox`, and the number they report
is the wrapper's :attr:`~BlackBox.queries`, the first clean prediction included.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from rlab_core.victims.jail import ModelStopped


class BudgetExhausted(Exception):
    """A query would exceed the budget; it was not sent and not counted."""


class BlackBox:
    """Any victim reduced to class probabilities, with a query counter and an optional budget.

    Args:
        model: an ``nn.Module`` or a function mapping a float batch ``(B, *input_shape)`` to
            logits ``(B, K)`` (log-probabilities do as well: the softmax gives them back). A
            module is put in eval mode, so that a prediction never depends on the batch.
        input_shape: the shape of one input, without the batch axis, e.g. ``(1, 28, 28)``.
        budget: the most samples the model may see in total, or ``None`` for no limit.

    Every sample that reaches the model counts one query: a batch of ``n`` counts ``n``.
    """

    def __init__(self, model: nn.Module | Callable[[torch.Tensor], torch.Tensor], input_shape: Sequence[int],
                 budget: int | None = None) -> None:
        if isinstance(model, nn.Module):
            model.eval()
        self._model = model
        self.input_shape = tuple(int(s) for s in input_shape)
        self._queries = 0
        self._budget: int | None = None
        self.set_budget(budget)

    @property
    def queries(self) -> int:
        """Samples the model has seen since construction or the last :meth:`reset`."""
        return self._queries

    @property
    def budget(self) -> int | None:
        return self._budget

    @property
    def remaining(self) -> int | None:
        """Queries left in the budget, or ``None`` when there is no budget."""
        return None if self._budget is None else max(0, self._budget - self._queries)

    def set_budget(self, budget: int | None) -> None:
        """Set the total budget (counted from the last :meth:`reset`), ``None`` for no limit."""
        if budget is not None and (int(budget) != budget or budget < 0):
            raise ValueError(f"budget must be a non-negative integer or None, got {budget!r}")
        self._budget = None if budget is None else int(budget)

    def reset(self) -> None:
        """Set the query count back to 0 (the budget stays)."""
        self._queries = 0

    def probs(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """Class probabilities of one input or a batch.

        Args:
            x: ``input_shape`` (one input, one query) or ``(B, *input_shape)`` (B queries).
                It is never modified.

        Returns:
            float64 array ``(K,)`` for one input, ``(B, K)`` for a batch; each row sums to 1.

        Raises:
            ValueError: wrong shape, or NaN / infinite values.
            BudgetExhausted: the batch would exceed the budget; the model was not called.
            ModelStopped: a jailed model hit its time or memory limit; ``queries`` holds the count,
                this batch included.
        """
        batch, single = self._as_batch(x)
        n = batch.shape[0]
        if self._budget is not None and self._queries + n > self._budget:
            raise BudgetExhausted(f"{n} more queries would exceed the budget of {self._budget} "
                                  f"({self._queries} spent)")
        self._queries += n
        try:
            probs = self._forward(batch)
        except ModelStopped as stopped:  # a jailed model hit a limit: the caller reports what was spent
            stopped.queries = self._queries
            raise
        return probs[0] if single else probs

    def predict_label(self, x: torch.Tensor | np.ndarray) -> int:
        """The top-1 class of one input (one query)."""
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"predict_label takes one input of shape {self.input_shape}, got {tuple(x.shape)}")
        return int(np.argmax(self.probs(x)))

    @torch.no_grad()
    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        logits = self._model(batch)
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != batch.shape[0]:
            raise RuntimeError(f"the victim must return logits (B, K) = ({batch.shape[0]}, K), "
                               f"got {tuple(getattr(logits, 'shape', ())) or type(logits).__name__}")
        return logits.detach().double().softmax(dim=-1).cpu().numpy()

    def _as_batch(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
        """A float32 copy of ``x`` as a batch on the model's device (a copy: the model may work in
        place), and whether ``x`` was a single input."""
        x = torch.as_tensor(x)
        shape = tuple(x.shape)
        single = shape == self.input_shape
        if not single and not (len(shape) == len(self.input_shape) + 1 and shape[1:] == self.input_shape
                                and shape[0] > 0):
            raise ValueError(f"expected an input of shape {self.input_shape} or a batch (B, *{self.input_shape}), "
                             f"got {shape}")
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError("the input contains NaN or infinite values")
        batch = x.detach().to(device=self._device(), dtype=torch.float32, copy=True)
        return (batch[None] if single else batch), single

    def _device(self) -> torch.device:
        param = next(self._model.parameters(), None) if isinstance(self._model, nn.Module) else None
        return torch.device("cpu") if param is None else param.device
