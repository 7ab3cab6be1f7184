"""Explain one input with every method, and score the maps where ground truth exists."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rlab_core.attacks.base import DEFAULT_BUDGET
from rlab_core.callbacks import Callback, Record, as_callbacks
from rlab_core.explanations.base import AttributionMap
from rlab_core.explanations.gradcam import gradcam
from rlab_core.explanations.integrated_gradients import integrated_gradients
from rlab_core.explanations.metrics import score
from rlab_core.explanations.occlusion import occlusion
from rlab_core.explanations.rl import rl_attacks, rl_maps
from rlab_core.explanations.saliency import saliency
from rlab_core.victims import BlackBox, Victim

METHODS = ("rl", "rl_hard", "saliency", "ig", "gradcam", "occlusion")
WHITE_BOX = ("saliency", "ig", "gradcam")
BLACK_BOX = tuple(m for m in METHODS if m not in WHITE_BOX)


@dataclass
class Explanation:
    """Every requested map of one input, and their scores (``None`` without ground truth)."""

    victim: str
    label: int
    label_name: str
    maps: dict[str, AttributionMap]
    scores: dict[str, dict] | None = None
    rl_success: bool | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready: per method its queries, white-box flag, seconds and (with ground truth) scores."""
        methods = {}
        for name, m in self.maps.items():
            methods[name] = {"white_box": m.white_box, "queries": m.queries, "seconds": round(m.seconds, 3)}
            if self.scores is not None:
                methods[name].update(self.scores[name])
        return {"victim": self.victim, "label": self.label, "label_name": self.label_name, "rl_success": self.rl_success,
                "methods": methods, "notes": self.notes}


def parse_methods(text: str) -> tuple[str, ...]:
    """``"rl,ig"`` -> ``("rl", "ig")``, each checked against :data:`METHODS` (repeats dropped)."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from: {', '.join(METHODS)}")
    return names


def explain(victim: Victim, x: torch.Tensor, label: int | None = None, methods: tuple[str, ...] = METHODS,
            budget: int = DEFAULT_BUDGET, seed: int = 0, truth: torch.Tensor | None = None, agent=None,
            callbacks: Callback | Sequence[Callback] = ()) -> Explanation:
    """Maps of ``x`` for ``victim`` by each of ``methods`` (all of shape ``x.shape[1:]``).

    Args:
        victim: the :class:`Victim` explained; one that is not white-box (an uploaded ONNX model, a
            bare callable) has no gradients: only ``rl``, ``rl_hard`` and ``occlusion``.
        label: the class to explain; ``None`` takes the network's clean top-1.
        budget, seed: of each RL attack (see :mod:`rlab_core.explanations.rl`); ``agent`` defaults
            to the victim's shipped agent.
        truth: a bool ground-truth mask of shape ``x.shape[1:]``; when given, every map is scored.
        callbacks: told of a phase ``"methods"`` (the RL attacks count as one step), a message
            naming each method as it starts, a step when it ends, and the agent's warnings.
    """
    if truth is not None and tuple(truth.shape) != tuple(x.shape[1:]):
        raise ValueError(f"ground truth {tuple(truth.shape)} does not cover the input's axes {tuple(x.shape[1:])}")
    if not victim.white_box and set(WHITE_BOX) & set(methods):
        raise ValueError(f"{', '.join(m for m in methods if m in WHITE_BOX)} read the network's gradients, and "
                         f"{victim.name} is {'an ONNX' if victim.weights == 'onnx' else 'a'} black box: choose from "
                         f"{', '.join(BLACK_BOX)}")
    grid = victim.grid
    label = victim.predict(x) if label is None else int(label)
    callbacks = as_callbacks(callbacks)
    maps: dict[str, AttributionMap] = {}
    explanation = Explanation(victim.name, label, victim.class_names[label], maps)

    hard = torch.zeros(x.shape[1:], dtype=torch.bool)
    wants_rl = bool({"rl", "rl_hard"} & set(methods))
    scored = truth is not None and bool(truth.any())
    # Scoring needs rl_hard's area (dice_at_rl_area) even when no RL map was asked for.
    if (wants_rl or scored) and agent is None:
        from rlab_core.agents.agent import AgentError, load_agent

        try:
            loading = Record()
            agent = load_agent(victim, [callbacks, loading])
            explanation.notes += loading.warnings
        except AgentError as err:
            if wants_rl:
                raise
            # Only the scores wanted it: score without dice_at_rl_area rather than fail.
            explanation.notes.append(f"{err}; dice_at_rl_area is not scored")
    runs_rl = agent is not None and (wants_rl or scored)
    others = [m for m in methods if m not in ("rl", "rl_hard")]
    callbacks.on_phase("methods", int(runs_rl) + len(others))
    if runs_rl and agent is not None:
        callbacks.on_message("RL attacks")
        started = time.perf_counter()
        results = rl_attacks(victim, x, label, agent, budget, seed)
        soft, hard_map = rl_maps(results, grid, time.perf_counter() - started)
        explanation.rl_success = any(r.success for r in results)
        hard = hard_map.values > 0
        maps.update({m.method: m for m in (soft, hard_map) if m.method in methods})
        callbacks.on_advance()
    for name in others:
        callbacks.on_message(name)
        if name == "occlusion":
            maps[name] = occlusion(BlackBox(victim), x, label, grid)
        else:
            method = {"saliency": saliency, "ig": integrated_gradients, "gradcam": gradcam}[name]
            network = victim.network
            assert isinstance(network, torch.nn.Module)  # a white box: checked above
            with torch.enable_grad():
                maps[name] = method(network, x, label)
        callbacks.on_advance()
    callbacks.on_phase_end()
    explanation.maps = {name: maps[name] for name in methods}  # in the order asked for

    if scored:
        assert truth is not None  # scored implies it
        explanation.scores = {name: score(name, m.values, truth.bool(), hard, grid.patch_size)
                              for name, m in explanation.maps.items()}
    return explanation

