"""Rebuild an attack's input at any step from its trajectory: what the app's live view and replay show.

A :class:`~rlab_core.attacks.distortion.Distortion` with the attack's seed, filters and strengths
gives each patch the same distorted content whatever the order of the steps (see
:func:`~rlab_core.attacks.distortion.patch_seed`), so replaying the recorded actions from the
clean input rebuilds the adversarial input bitwise, with no query to the victim.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from rlab_core.attacks.distortion import Distortion, default_context
from rlab_core.attacks.patch import attack_filters
from rlab_core.attacks.result import StepRecord, l2
from rlab_core.patches import PatchGrid
from rlab_core.victims import Victim, VictimProfile

Step = StepRecord | Mapping  # a record, or its ``to_dict()`` as read back from trajectory.json


class TrajectoryReplay:
    """The distortion of an attack on ``x``, advanced one recorded step at a time.

    Arguments are the attack's own: the :class:`Victim` or built-in profile (its grid and strengths),
    ``filter`` (a name, ``"mix"`` or a comma list), ``strength`` (one filter only; ``None``: the victim's strengths) and ``seed``.
    """

    def __init__(self, x: torch.Tensor, victim: Victim | VictimProfile, filter: str = "mix", strength: float | None = None,
                 seed: int = 0) -> None:
        filters, strengths = attack_filters(victim, filter, strength)
        self.grid: PatchGrid = victim.grid
        self.distortion = Distortion(x, self.grid, filters, strengths, seed, ctx=default_context(x, victim.modality))
        self._index = {f.name: i for i, f in enumerate(filters)}
        self.steps = 0
        self.top: list | None = None  # the victim's top classes for the current input; None: not yet queried

    def step(self, record: Step) -> None:
        """Apply one recorded step. A ``prune`` step changes the input only when it was kept, which
        is exactly when the victim stayed fooled (``misclassified``): so a record handed to
        ``on_step``, before the session marks a put-back removal with ``kept=False``, replays right too."""
        r = record.to_dict() if isinstance(record, StepRecord) else record
        if r["action"] not in ("add", "remove", "prune"):
            raise ValueError(f"step {r.get('step')}: unknown action {r['action']!r}")
        if r["action"] == "add":
            self.distortion.add(r["patch"], self._index[r["filter"]])
        elif not put_back(r):
            self.distortion.remove(r["patch"])
        if not put_back(r):  # a put-back removal leaves the input, and the victim's answer to it, as they were
            self.top = r["top"]
        self.steps += 1

    def run(self, trajectory: Iterable[Step]) -> TrajectoryReplay:
        for record in trajectory:
            self.step(record)
        return self

    def x_adv(self) -> torch.Tensor:
        """The input after the steps applied so far."""
        return self.distortion.adversarial()

    @property
    def l2(self) -> float:
        """The distortion's L2 norm so far, in ``[0, 1]`` input scale."""
        return l2(self.distortion.x, self.x_adv())

    @property
    def n_distorted(self) -> int:
        return self.distortion.n_distorted

    @property
    def mask(self) -> torch.Tensor:
        """Which patches are distorted: bool ``(n_patches,)``."""
        return self.distortion.mask

    def patch_filters(self) -> dict[int, str]:
        """The name of the filter on each distorted patch, by patch index."""
        names = [f.name for f in self.distortion.filters]
        return {p: names[f] for p, f in enumerate(self.distortion.assignment.tolist()) if f >= 0}


def put_back(record: Step) -> bool:
    """Whether ``record`` is a prune step whose removal was undone (the victim was right again)."""
    r = record.to_dict() if isinstance(record, StepRecord) else record
    return r["action"] == "prune" and not (r.get("kept", True) and r["misclassified"])


def replay(x: torch.Tensor, victim: Victim | VictimProfile, filter: str, strength: float | None, seed: int,
           trajectory: list[Step], upto: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` after the first ``upto`` steps of ``trajectory`` (0: the clean input; ``None``: all of
    them, which gives the attack's ``x_adv`` exactly) and its patch mask, bool ``(n_patches,)``."""
    steps = trajectory if upto is None else trajectory[:upto]
    state = TrajectoryReplay(x, victim, filter, strength, seed).run(steps)
    return state.x_adv(), state.mask
