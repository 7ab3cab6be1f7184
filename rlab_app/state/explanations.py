"""Explanations from the Explain page, cached: the request the page keeps its last explanation
under, the maps of one input, and their score table."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st
import torch

from rlab_app.state.attacks import shipped_agent
from rlab_app.state.victims import modified, network_for, network_version
from rlab_core.agents.agent import AgentError, agent_path
from rlab_core.callbacks import Callback
from rlab_core.explanations import Explanation, explain, target_of
from rlab_core.sample import Sample
from rlab_core.victims import Victim

RL_METHODS = ("rl", "rl_hard")  # the methods made of RL attacks: they need the victim's agent
SCORE_COLUMNS = ("dice", "iou", "dice_at_rl_area", "pointing")


@dataclass(frozen=True)
class ExplainRequest:
    """What the Explain page asked for, down to the input's exact values (``digest``): the page
    keeps the last explanation under it and shows it while the request stands."""

    victim: str
    input_name: str
    digest: str
    methods: tuple[str, ...]
    budget: int
    seed: int
    weights: str = "shipped"  # or ONNX
    network: int | str | None = None  # network_version of the weights or the uploaded model

    @classmethod
    def of(cls, victim: str, sample: Sample, methods: tuple[str, ...], budget: int, seed: int,
           weights: str = "shipped", model: Victim | None = None) -> ExplainRequest:
        digest = hashlib.sha256(sample.x.numpy().tobytes()).hexdigest()
        return cls(victim, sample.name, digest, tuple(methods), int(budget), int(seed), weights,
                   network_version(victim, weights, model))


def explain_input(victim: str, sample: Sample, methods: tuple[str, ...], budget: int, seed: int,
                  callbacks: Sequence[Callback] = (), weights: str = "shipped",
                  model: Victim | None = None) -> Explanation:
    """The maps of ``sample`` (the network's clean top-1 explained), scored when it has ground truth
    for that class (:func:`~rlab_core.explanations.target_of`: on a mosaic, that class's part and
    cell); the network is the victim with ``weights``, or the uploaded ``model`` (black-box methods
    only). ``callbacks`` follow the methods, unless the result comes from the cache. Raises
    ``AgentError`` if an RL method is asked for while the victim has no agent."""
    network = network_for(victim, weights, model)
    target = target_of(network, sample, network.predict(sample.x))
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
    """The score table: per method its scores (``None`` where not defined) and the victim queries
    it spent (``None`` for the white-box methods, which read gradients instead)."""
    assert explanation.scores is not None  # shown for a scored explanation only
    return [{"method": name, **{column: explanation.scores[name][column] for column in SCORE_COLUMNS},
             "queries": m.queries} for name, m in explanation.maps.items()]
