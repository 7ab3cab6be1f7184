"""The attack protocol: every attack is one class with one entry point, :meth:`Attack.run`.

As in ART, an attack is built with its own parameters, which it declares and checks in its
constructor (a filter, an agent, a radius), and is then run on any number of inputs:

    result = RandomOrderAttack(filter="gaussian_noise").run(victim, x, y, budget=500, seed=0)

``run(victim, x, y, *, budget, max_patches, seed, callbacks) -> AttackResult`` is the same for
every attack: ``victim`` a :class:`~rlab_core.victims.Victim`, ``x`` one input of its
``input_shape`` in ``[0, 1]``, ``y`` the true class (``None``: the victim's clean top-1), ``budget``
the queries allowed (the clean prediction included; a fresh
:class:`~rlab_core.victims.BlackBox` counts them), ``max_patches`` the patch cap (default 20% of the
grid), ``seed`` what fixes the attack's randomness, and ``callbacks``
(:class:`~rlab_core.callbacks.Callback`) told of every step (``on_attack_step``, a
:class:`~rlab_core.attacks.result.StepRecord`) as it happens.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch

from rlab_core.attacks.result import AttackResult
from rlab_core.callbacks import Callback, CallbackList, as_callbacks
from rlab_core.victims import Victim
from rlab_core.victims.blackbox import DEFAULT_BUDGET


class Attack(ABC):
    """One attack. Subclasses name themselves (:attr:`name`), take their parameters as keyword
    arguments of ``__init__`` and check them there, and implement :meth:`_run`."""

    name: ClassVar[str]
    uses_patches: ClassVar[bool] = True  # False: it ignores the patch grid, so a patch cap means nothing to it
    # The parameter that bounds its distortion, which a benchmark matches to the L2 ``rl`` reached.
    matched_parameter: ClassVar[str | None] = None

    def run(self, victim: Victim, x: torch.Tensor, y: int | None = None, *, budget: int = DEFAULT_BUDGET,
            max_patches: int | None = None, seed: int = 0, callbacks: Callback | Sequence[Callback] = ()) -> AttackResult:
        """Attack one input; see the module's docstring for the arguments."""
        if not isinstance(victim, Victim):
            raise TypeError(f"an attack runs on a Victim (rlab_core.Victim), not {type(victim).__name__}")
        if int(budget) != budget or budget < 2:
            raise ValueError(f"budget must be an integer of at least 2 (the clean prediction and one step), got {budget}")
        if max_patches is not None and (not self.uses_patches or int(max_patches) != max_patches or max_patches < 1):
            raise ValueError(f"{self.name} has no patch cap" if not self.uses_patches
                             else f"max_patches must be a positive integer, got {max_patches}")
        if tuple(x.shape) != victim.input_shape:
            raise ValueError(f"{victim.name} takes one input of shape {victim.input_shape}, got {tuple(x.shape)}")
        return self._run(victim, x, y, budget=int(budget), max_patches=max_patches, seed=int(seed),
                         callbacks=as_callbacks(callbacks))

    @abstractmethod
    def _run(self, victim: Victim, x: torch.Tensor, y: int | None, *, budget: int, max_patches: int | None,
             seed: int, callbacks: CallbackList) -> AttackResult:
        """The attack itself, on checked arguments."""
