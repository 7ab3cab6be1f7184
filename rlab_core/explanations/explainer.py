"""Explain one input with every method, and score the maps where ground truth exists."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rlab_core.attacks.base import DEFAULT_BUDGET
from rlab_core.callbacks import Callback, Record, as_callbacks
from rlab_core.explanations.base import AttributionMap
from rlab_core.explanations.captum_peers import feature_ablation, kernel_shap, lime, shapley
from rlab_core.explanations.controls import CONTROLS, MODEL_FREE, edges, model_free, model_free_in_cell, random_map
from rlab_core.explanations.gradcam import gradcam
from rlab_core.explanations.integrated_gradients import integrated_gradients
from rlab_core.explanations.metrics import score
from rlab_core.explanations.occlusion import occlusion
from rlab_core.explanations.rise import rise
from rlab_core.explanations.rl import rl_attacks, rl_maps
from rlab_core.explanations.saliency import saliency
from rlab_core.sample import Sample
from rlab_core.victims import BlackBox, Victim

METHODS = ("rl", "rl_hard", "saliency", "ig", "gradcam", "occlusion")  # the explanations compared
WHITE_BOX = ("saliency", "ig", "gradcam")
BLACK_BOX = tuple(m for m in METHODS if m not in WHITE_BOX)
# The black-box peers at a query budget: Captum's perturbation methods and RISE, on the patch grid.
PEERS = ("feature_ablation", "shapley", "kernel_shap", "lime", "rise")
KNOWN = (*METHODS, *PEERS, *CONTROLS)  # what explain() runs: the methods, the peers, and the controls beside them


def default_methods(white_box: bool, truth: bool) -> tuple[str, ...]:
    """What an explanation runs unless told: every method the victim allows, and the controls
    (``model_free_in_cell`` only with ground truth, which it reads)."""
    return (*(METHODS if white_box else BLACK_BOX), *MODEL_FREE, *(("model_free_in_cell",) if truth else ()))


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
        """JSON-ready: per method its access, queries, white-box flag, seconds and (with ground truth) scores."""
        methods = {}
        for name, m in self.maps.items():
            methods[name] = {"access": m.access, "white_box": m.white_box, "uses_ground_truth": m.uses_ground_truth,
                             "queries": m.queries, "seconds": round(m.seconds, 3)}
            if self.scores is not None:
                methods[name].update(self.scores[name])
        return {"victim": self.victim, "label": self.label, "label_name": self.label_name, "rl_success": self.rl_success,
                "methods": methods, "notes": self.notes}


@dataclass(frozen=True)
class Target:
    """The class an explanation explains, and the ground truth its maps are scored against:
    ``truth`` marks that class's object (``None``: none known, no scores) and ``cell``, on a
    mosaic, the cell that holds it (the grid pointing game)."""

    label: int
    truth: torch.Tensor | None = None
    cell: torch.Tensor | None = None


def class_index(text: str, class_names: Sequence[str]) -> int:
    """A class named by its name (any case) or its index; one clear ``ValueError`` otherwise."""
    names = [name.lower() for name in class_names]
    if text.strip().lower() in names:
        return names.index(text.strip().lower())
    if text.strip().isdigit() and int(text) < len(class_names):
        return int(text)
    raise ValueError(f"unknown class {text!r}: give a name or an index from 0 to {len(class_names) - 1} "
                     f"({', '.join(class_names[:12])}{', ...' if len(class_names) > 12 else ''})")


def target_of(victim: Victim, sample: Sample, target: int | None = None) -> Target:
    """What to explain of ``sample``: class ``target``, else its true class, else (a mosaic or an
    unlabelled input) the victim's top-1. A mosaic's class is scored against its own part; a
    single object's mask only when its own class is explained."""
    if target is None:
        target = sample.y if sample.y is not None and not sample.parts else victim.predict(sample.x)
    if sample.parts:
        part = sample.part(target)
        return Target(target) if part is None else Target(target, part.mask, part.cell)
    return Target(target, sample.mask if target == sample.y else None)


def parse_methods(text: str) -> tuple[str, ...]:
    """``"rl,ig"`` -> ``("rl", "ig")``, each checked against :data:`KNOWN` (repeats dropped)."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in KNOWN]
    if unknown or not names:
        raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from: {', '.join(KNOWN)}")
    return names


def explain(victim: Victim, x: torch.Tensor, label: int | None = None, methods: tuple[str, ...] = METHODS,
            budget: int = DEFAULT_BUDGET, seed: int = 0, truth: torch.Tensor | None = None, agent=None,
            callbacks: Callback | Sequence[Callback] = (), cell: torch.Tensor | None = None,
            rl_area: bool = True) -> Explanation:
    """Maps of ``x`` for ``victim`` by each of ``methods`` (all of shape ``x.shape[1:]``).

    Args:
        victim: the :class:`Victim` explained; one that is not white-box (an uploaded ONNX model, a
            bare callable) has no gradients: only the black-box methods and the controls.
        label: the class to explain; ``None`` takes the network's clean top-1.
        budget, seed: of each RL attack (see :mod:`rlab_core.explanations.rl`), and the most
            queries each peer of :data:`PEERS` spends; ``agent`` defaults to the victim's shipped agent.
        truth: a bool ground-truth mask of shape ``x.shape[1:]``; when given, every map is scored.
        rl_area: score ``dice_at_rl_area`` too, which runs the RL attacks even when no RL map is
            asked for; ``False`` leaves it ``None`` unless an RL map is asked for.
        cell: on a mosaic, the explained class's cell (bool, ``x.shape[1:]``): maps are scored by
            the grid pointing game too, and ``model_free_in_cell`` keeps to it.
        callbacks: told of a phase ``"methods"`` (the RL attacks count as one step), a message
            naming each method as it starts, a step when it ends, and the agent's warnings.
    """
    for name, mask in (("ground truth", truth), ("cell", cell)):
        if mask is not None and tuple(mask.shape) != tuple(x.shape[1:]):
            raise ValueError(f"the {name} {tuple(mask.shape)} does not cover the input's axes {tuple(x.shape[1:])}")
    unknown = [m for m in methods if m not in KNOWN]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(KNOWN)}")
    if "model_free_in_cell" in methods and truth is None:
        raise ValueError("model_free_in_cell reads the ground truth: it needs an input with a ground-truth mask")
    if not victim.white_box and set(WHITE_BOX) & set(methods):
        raise ValueError(f"{', '.join(m for m in methods if m in WHITE_BOX)} read the network's gradients, and "
                         f"{victim.name} is {'an ONNX' if victim.weights == 'onnx' else 'a'} black box: choose from "
                         f"{', '.join(m for m in KNOWN if m not in WHITE_BOX)}")
    grid = victim.grid
    label = victim.predict(x) if label is None else int(label)
    callbacks = as_callbacks(callbacks)
    maps: dict[str, AttributionMap] = {}
    explanation = Explanation(victim.name, label, victim.class_names[label], maps)

    hard = torch.zeros(x.shape[1:], dtype=torch.bool)
    wants_rl = bool({"rl", "rl_hard"} & set(methods))
    scored = truth is not None and bool(truth.any())
    # Scoring needs rl_hard's area (dice_at_rl_area) even when no RL map was asked for.
    needs_rl = wants_rl or (scored and rl_area)
    if needs_rl and agent is None:
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
    runs_rl = agent is not None and needs_rl
    others = [m for m in methods if m not in ("rl", "rl_hard")]
    callbacks.on_phase("methods", int(runs_rl) + len(others))
    if runs_rl:
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
        elif name in PEERS:
            maps[name] = peer(name, BlackBox(victim), x, label, budget, seed)
        elif name in CONTROLS:
            maps[name] = control(name, x, seed, truth, cell)
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
        explanation.scores = {name: score(name, m.values, truth.bool(), hard, grid.patch_size, cell)
                              for name, m in explanation.maps.items()}
    return explanation


def peer(name: str, black_box: BlackBox, x: torch.Tensor, label: int, budget: int, seed: int) -> AttributionMap:
    """The peer ``name`` of :data:`PEERS` through ``black_box``, at most ``budget`` queries (Feature
    Ablation costs its fixed 1 + P)."""
    grid = black_box.victim.grid
    if name == "feature_ablation":
        return feature_ablation(black_box, x, label, grid)
    method = {"shapley": shapley, "kernel_shap": kernel_shap, "lime": lime, "rise": rise}[name]
    return method(black_box, x, label, grid, budget, seed)


def control(name: str, x: torch.Tensor, seed: int, truth: torch.Tensor | None, cell: torch.Tensor | None) -> AttributionMap:
    """The control ``name`` of :data:`~rlab_core.explanations.controls.CONTROLS` (no query)."""
    if name == "model_free_in_cell":
        assert truth is not None  # explain() checks it
        return model_free_in_cell(x, truth, cell)
    return {"model_free": lambda: model_free(x), "edges": lambda: edges(x), "random": lambda: random_map(x, seed)}[name]()

