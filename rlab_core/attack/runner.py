"""Run an attack on one input: the RL agent's, or any attacker that drives an :class:`AttackSession`."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rlab_core.attack.result import AttackResult, StepRecord
from rlab_core.attack.session import AttackSession
from rlab_core.filters import Filter, resolve_filters
from rlab_core.patches import grid_for
from rlab_core.victims import get_spec, load_model
from rlab_core.victims.blackbox import BlackBox

DEFAULT_BUDGET = 1000


def open_session(victim: str, x: torch.Tensor, label: int | None, filter: str = "mix", budget: int = DEFAULT_BUDGET,
                 max_patches: int | None = None, seed: int = 0, strength: float | None = None,
                 on_step: Callable[[StepRecord], None] | None = None, *, model: nn.Module | None = None) -> AttackSession:
    """A session on built-in ``victim`` with a fresh query-counting :class:`BlackBox`.

    ``filter`` is a filter name, ``"mix"`` or a comma list; ``strength`` (one filter only)
    overrides the victim's strength for it (see :func:`filter_strengths`). ``model`` is queried
    instead of the victim's shipped network (e.g. a fine-tuned copy of it); the victim's name
    still gives the grid, filters, strengths and class names.
    """
    spec = get_spec(victim)
    filters, strengths = attack_filters(victim, filter, strength)
    black_box = BlackBox(load_model(victim) if model is None else model, spec.input_shape, budget=budget)
    return AttackSession(black_box, x, label, grid_for(victim, spec.input_shape), filters, strengths=strengths, seed=seed,
                         max_patches=max_patches, class_names=spec.class_names, modality=spec.modality, on_step=on_step)


def attack_filters(victim: str, filter: str, strength: float | None = None) -> tuple[list[Filter], list[float]]:
    """The filters ``filter`` names and their strengths on ``victim`` (``strength`` overrides a
    single filter's)."""
    filters = resolve_filters(filter)
    if strength is not None and len(filters) != 1:
        raise ValueError("a strength can be set for a single filter only, not for a mixture")
    return filters, [strength] if strength is not None else filter_strengths(victim, filters)


def filter_strengths(victim: str, filters: list[Filter]) -> list[float]:
    """Each filter's strength on ``victim``: the victim's own setting, else the filter's default."""
    overrides = get_spec(victim).strengths
    return [overrides.get(f.name, f.default_strength) for f in filters]


def drive(session: AttackSession, choose: Callable[[AttackSession], tuple[int, int]], prune: bool = True) -> None:
    """Step ``session`` with ``choose`` (returns ``(kind, patch)``; ``kind == len(filters)``
    removes) until the flip, the budget or a dead end; then prune a success."""
    if session.already_misclassified:
        return
    while not session.misclassified and not session.out_of_budget:
        legal = session.action_mask()
        if not legal.any():
            break
        kind, patch = choose(session)
        if kind == len(session.filters):
            session.remove(patch)
        else:
            session.add(patch, kind)
    if prune:
        session.prune()


def attack(victim: str, x: torch.Tensor, y: int | None, agent, filter: str = "mix", budget: int = DEFAULT_BUDGET,
           max_patches: int | None = None, seed: int = 0, *, strength: float | None = None, prune: bool = True,
           deterministic: bool = True, on_step: Callable[[StepRecord], None] | None = None,
           model: nn.Module | None = None) -> AttackResult:
    """The RL attack: ``agent`` (an :class:`~rlab_core.attack.agent.Agent`) picks one action per
    query until the victim's top-1 leaves ``y`` (``None``: the clean top-1).

    Args:
        victim: a built-in victim's name. x: its input, ``spec.input_shape`` in ``[0, 1]``.
        filter: a filter name, ``"mix"`` (the agent picks the filter per step) or a comma list.
        budget: queries, the clean prediction included. max_patches: default 20% of the grid.
        seed: fixes the filters' randomness (and the sampling when ``deterministic`` is False).
        on_step: called with every :class:`StepRecord` as it happens (a page follows it live).
        model: query this network instead of the victim's shipped one (see :func:`open_session`).
    """
    session = open_session(victim, x, y, filter, budget, max_patches, seed, strength, on_step, model=model)
    rng = np.random.default_rng(seed)
    last_was_remove = [False]

    def choose(s: AttackSession) -> tuple[int, int]:
        logits = agent.logits(s, last_was_remove[0])
        if deterministic:
            flat = int(np.argmax(logits))
        else:
            p = np.exp(logits - logits.max())
            flat = int(rng.choice(p.size, p=(p / p.sum()).ravel()))
        kind, patch = divmod(flat, s.grid.n_patches)
        last_was_remove[0] = kind == len(s.filters)
        return kind, patch

    drive(session, choose, prune)
    return session.result("rl")
