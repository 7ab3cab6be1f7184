"""``rl`` and ``adaptive``: the RL agent picks one action per query.

The attack of Sarkar et al., "Robustness and Visual Explanation for Black Box Image, Video, and
ECG Signal Classification with Reinforcement Learning" (AAAI 2024 demo): on the victim's patch
grid, a trained policy (:mod:`rlab_core.agents`) adds a filter to a patch or removes one, each
step one query, until the victim's top-1 leaves the true class or the budget is spent; then the
distortion is pruned. Distance: L0 in patches (capped, 20% of the grid by default); L2, Linf and
SSIM / SNR are measured, not bounded.

``adaptive`` is the same attack with the agent trained again against the victim's hardened
weights (see :mod:`rlab_core.robustness`): an attacker who knows the defence.
"""
from __future__ import annotations

import numpy as np

from rlab_core.attacks.patch import PatchAttack, drive
from rlab_core.attacks.session import AttackSession
from rlab_core.victims import Victim


class RLAttack(PatchAttack):
    """The RL attack with ``agent`` (an :class:`~rlab_core.agents.agent.Agent`; ``None``: the
    victim's shipped agent, loaded at the first run).

    Args:
        agent: the policy; any agent whose grid fits the victim's.
        filter, strength, prune: see :class:`~rlab_core.attacks.patch.PatchAttack`.
        deterministic: follow the policy's best action; else sample from it (seeded by ``seed``).
    """

    name = "rl"

    def __init__(self, agent=None, filter: str = "mix", strength: float | None = None, prune: bool = True,
                 deterministic: bool = True) -> None:
        super().__init__(filter, strength, prune)
        if agent is not None and not callable(getattr(agent, "logits", None)):
            raise TypeError(f"agent must be an rlab_core Agent (with logits), not {type(agent).__name__}")
        self.agent, self.deterministic = agent, bool(deterministic)

    def agent_for(self, victim: Victim):
        """The agent that attacks ``victim``: the one given, else the victim's shipped agent (loaded
        for each run: pass ``agent`` to attack many inputs)."""
        from rlab_core.agents.agent import load_agent

        return self.agent if self.agent is not None else load_agent(victim)

    def search(self, session: AttackSession, seed: int) -> None:
        agent = self.agent_for(session.victim.victim)
        rng = np.random.default_rng(seed)
        last_was_remove = [False]

        def choose(s: AttackSession) -> tuple[int, int]:
            logits = agent.logits(s, last_was_remove[0])
            if self.deterministic:
                flat = int(np.argmax(logits))
            else:
                p = np.exp(logits - logits.max())
                flat = int(rng.choice(p.size, p=(p / p.sum()).ravel()))
            kind, patch = divmod(flat, s.grid.n_patches)
            last_was_remove[0] = kind == len(s.filters)
            return kind, patch

        drive(session, choose, self.prune)


class AdaptiveRLAttack(RLAttack):
    """``rl`` with the agent trained again against the victim's hardened weights (the victim must be
    ``Victim.builtin(name, weights="hardened" | "last-run")``); arguments as :class:`RLAttack`."""

    name = "adaptive"

    def agent_for(self, victim: Victim):
        from rlab_core.agents.agent import load_adaptive_agent

        return self.agent if self.agent is not None else load_adaptive_agent(victim)
