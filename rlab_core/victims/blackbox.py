"""The black-box wrapper: a victim seen only through its probabilities, every query counted.

Attacks never count queries themselves: they hold a :class:`BlackBox`, and the number they report
is the wrapper's :attr:`~BlackBox.queries`, the first clean prediction included.
"""
from __future__ import annotations

import numpy as np
import torch

from rlab_core.victims.jail import ModelStopped
from rlab_core.victims.victim import Victim

DEFAULT_BUDGET = 1000  # queries per attack, the clean prediction included, unless a caller says otherwise


class BudgetExhausted(Exception):
    """A query would exceed the budget; it was not sent and not counted."""


class BlackBox:
    """Any victim reduced to class probabilities, with a query counter and an optional budget.

    Args:
        victim: the :class:`Victim` asked (its network is in eval mode, so that a prediction never
            depends on the batch).
        budget: the most samples the network may see in total, or ``None`` for no limit.

    Every sample that reaches the model counts one query: a batch of ``n`` counts ``n``.
    """

    def __init__(self, victim: Victim, budget: int | None = None) -> None:
        if not isinstance(victim, Victim):
            raise TypeError(f"a BlackBox wraps a Victim, not {type(victim).__name__}")
        self.victim = victim
        self.input_shape = victim.input_shape
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
        batch, single = self.victim.as_batch(x)
        n = batch.shape[0]
        if self._budget is not None and self._queries + n > self._budget:
            raise BudgetExhausted(f"{n} more queries would exceed the budget of {self._budget} "
                                  f"({self._queries} spent)")
        self._queries += n
        try:
            probs = self.victim.probabilities(batch)
        except ModelStopped as stopped:  # a jailed model hit a limit: the caller reports what was spent
            stopped.queries = self._queries
            raise
        return probs[0] if single else probs

    def predict_label(self, x: torch.Tensor | np.ndarray) -> int:
        """The top-1 class of one input (one query)."""
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"predict_label takes one input of shape {self.input_shape}, got {tuple(x.shape)}")
        return int(np.argmax(self.probs(x)))
