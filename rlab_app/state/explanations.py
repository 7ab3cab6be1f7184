"""Explanations from the Explain page, cached: the request the page keeps its last explanation
under, the maps of one input, their score table, the randomisation check, and the victim's
committed explanation benchmark."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st
import torch

from rlab_app.state.attacks import shipped_agent
from rlab_app.state.reports import json_report
from rlab_app.state.victims import builtin_victim, modified, network_for, network_version
from rlab_core import ROOT
from rlab_core.agents.agent import AgentError, agent_path
from rlab_core.callbacks import Callback
from rlab_core.explanations import Explanation, explain, randomisation_test, target_of
from rlab_core.sample import Sample
from rlab_core.victims import Victim

RL_METHODS = ("rl", "rl_hard")  # the methods made of RL attacks: they need the victim's agent
SCORE_COLUMNS = ("dice", "iou", "gridpg", "dice_at_rl_area", "pointing")


@dataclass(frozen=True)
class ExplainRequest:
    """What the Explain page asked for, down to the input's exact values (``digest``): the page
    keeps the last explanation under it and shows it while the request stands."""

    victim: str
    input_name: str
    digest: str
    target: int  # the class explained
    methods: tuple[str, ...]
    budget: int
    seed: int
    weights: str = "shipped"  # or ONNX
    network: int | str | None = None  # network_version of the weights or the uploaded model

    @classmethod
    def of(cls, victim: str, sample: Sample, target: int, methods: tuple[str, ...], budget: int, seed: int,
           weights: str = "shipped", model: Victim | None = None) -> ExplainRequest:
        digest = hashlib.sha256(sample.x.numpy().tobytes()).hexdigest()
        return cls(victim, sample.name, digest, int(target), tuple(methods), int(budget), int(seed), weights,
                   network_version(victim, weights, model))


def explain_input(victim: str, sample: Sample, label: int, methods: tuple[str, ...], budget: int, seed: int,
                  callbacks: Sequence[Callback] = (), weights: str = "shipped",
                  model: Victim | None = None) -> Explanation:
    """The maps of class ``label`` of ``sample``, scored when it has ground truth for that class
    (:func:`~rlab_core.explanations.target_of`: on a mosaic, that class's part and cell); the
    network is the victim with ``weights``, or the uploaded ``model`` (black-box methods only).
    ``callbacks`` follow the methods, unless the result comes from the cache. Raises
    ``AgentError`` if an RL method is asked for while the victim has no agent."""
    target = target_of(network_for(victim, weights, model), sample, label)
    return _explanation(victim, sample.x, target.label, target.truth, target.cell, tuple(methods), int(budget),
                        int(seed), modified(agent_path(victim)), weights, network_version(victim, weights, model),
                        tuple(callbacks), model)


# Keyed by the exact bytes of the input and mask (see top_classes), by the agent file's time (a new
# or retrained agent gives new RL maps) and by the network's version. The callbacks and the
# uploaded model (leading _) are not part of the key: the version stands for the model.
@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def _explanation(victim: str, x: torch.Tensor, label: int, mask: torch.Tensor | None, cell: torch.Tensor | None,
                 methods: tuple[str, ...], budget: int,
                 seed: int, agent_modified: int | None, weights: str, network: int | str | None,
                 _callbacks: tuple[Callback, ...], _model: Victim | None) -> Explanation:
    try:
        agent, warnings = shipped_agent(victim)
    except AgentError:
        if set(RL_METHODS) & set(methods):
            raise
        agent, warnings = None, ()  # explain() then scores without dice_at_rl_area and says so
    explanation = explain(network_for(victim, weights, _model), x, label, methods, budget, seed, truth=mask, cell=cell,
                          agent=agent, callbacks=_callbacks)
    explanation.notes[:0] = warnings
    return explanation


def score_rows(explanation: Explanation) -> list[dict]:
    """The score table: per method its access (black-box, white-box or a control), its scores
    (``None`` where not defined; ``gridpg`` only on a mosaic) and the victim queries it spent
    (``None`` for the white-box methods, which read gradients instead)."""
    assert explanation.scores is not None  # shown for a scored explanation only
    columns = [c for c in SCORE_COLUMNS if any(c in scores for scores in explanation.scores.values())]
    return [{"method": name, "access": m.access, **{column: explanation.scores[name].get(column) for column in columns},
             "queries": m.queries} for name, m in explanation.maps.items()]


def randomisation_rows(victim: str, sample: Sample, label: int, methods: tuple[str, ...], budget: int,
                       seed: int) -> list[dict]:
    """Adebayo et al.'s check on the shipped network: per method, the rank correlation of its map of
    ``label`` on the trained network and on the same network with every weight re-initialised
    (``None`` where a map is constant). Cached per input, class, methods, budget and seed."""
    return _randomisation_rows(victim, sample.x, int(label), tuple(methods), int(budget), int(seed),
                               modified(agent_path(victim)))


@st.cache_data(show_spinner="Re-initialising the network and mapping again…", max_entries=16,
               hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def _randomisation_rows(victim: str, x: torch.Tensor, label: int, methods: tuple[str, ...], budget: int, seed: int,
                        agent_modified: int | None) -> list[dict]:
    agent = shipped_agent(victim)[0] if set(RL_METHODS) & set(methods) else None
    correlations = randomisation_test(builtin_victim(victim), x, label, methods, budget=budget, seed=seed, agent=agent)
    return [{"method": name, "rank correlation": value} for name, value in correlations.items()]


def explain_benchmark(victim: str) -> dict | None:
    """The victim's committed explanation benchmark with its validity check: ``benchmarks/explain-<victim>.json``,
    else a run of part of its methods beside it (``explain-<victim>-controls.json``, say); re-read when
    the file changes."""
    folder = ROOT / "benchmarks"
    for path in (folder / f"explain-{victim}.json", *sorted(folder.glob(f"explain-{victim}-*.json"))):
        report = json_report(path)
        if isinstance(report, dict) and {"rows", "validity"} <= report.keys():
            return report
    return None
