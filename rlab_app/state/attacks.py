"""Attacks from the Attack page, cached where they are slow: the RL agents, the page's settings,
one run of the registry's attack, its files for download, and the finished run the page keeps."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import streamlit as st
import torch

from rlab_app.state.victims import ONNX, WEIGHT_NAMES, builtin_victim, modified, network_for
from rlab_core.agents.agent import Agent, adaptive_agent_path, agent_path, load_adaptive_agent, load_agent
from rlab_core.attacks import DEFAULT_BUDGET, make_attack
from rlab_core.attacks.output import write_attack
from rlab_core.attacks.result import AttackResult
from rlab_core.callbacks import Callback, Record
from rlab_core.run_record import run_record
from rlab_core.sample import Sample
from rlab_core.victims import Victim, weights_file

if TYPE_CHECKING:
    from rlab_core.victims.onnx_model import OnnxClassifier

ATTACKERS = {"rl": "RL agent", "adaptive": "Adaptive RL agent (trained again against these hardened weights)",
             "random": "Random order (the reference)"}
MIME = {".npy": "application/octet-stream", ".json": "application/json", ".png": "image/png", ".csv": "text/csv",
        ".mp4": "video/mp4"}


def shipped_agent(victim: str) -> tuple[Agent, tuple[str, ...]]:
    """The victim's shipped RL agent and the warnings loading it gave (e.g. trained against other
    weights). Raises ``AgentError`` while there is none, which is never cached: an agent that
    appears, or is retrained, while the app runs is picked up (the file's time is in the key)."""
    return _agent(victim, "shipped", modified(agent_path(victim)), None)


def adaptive_agent(victim: str, weights: str) -> tuple[Agent, tuple[str, ...]]:
    """The agent trained again against the hardened ``weights``, as :func:`shipped_agent`; raises
    ``AgentError`` while there is none (``VictimError`` while the weights do not exist)."""
    hardened = weights_file(victim, weights)
    return _agent(victim, weights, modified(adaptive_agent_path(hardened)), modified(hardened))


# The files' times are only cache keys: a new agent, or hardened weights that changed under an
# adaptive agent (its warning), load again.
@st.cache_resource(show_spinner="Loading the RL agent…", max_entries=8)
def _agent(victim: str, weights: str, modified: int | None,
           weights_modified: int | None) -> tuple[Agent, tuple[str, ...]]:
    record = Record()
    agent = (load_agent(victim, [record]) if weights == "shipped"
             else load_adaptive_agent(builtin_victim(victim, weights), [record]))
    return agent, tuple(record.warnings)


@dataclass(frozen=True)
class AttackSettings:
    """What the Attack page asks for: the CLI's ``attack`` options. ``strength`` ``None``: the
    victim's strength for the filter (always for ``"mix"``); ``max_patches`` ``None``: 20% of the
    grid; ``weights``: the victim's weights attacked (a key of ``WEIGHT_CHOICES``)."""

    attacker: str = "rl"  # a key of ATTACKERS
    filter: str = "mix"
    strength: float | None = None
    budget: int = DEFAULT_BUDGET
    max_patches: int | None = None
    seed: int = 0
    weights: str = "shipped"  # or ONNX: an uploaded model, handed to run_attack

    def describe(self) -> str:
        strength = "" if self.strength is None else f" at strength {self.strength:g}"
        cap = "" if self.max_patches is None else f", at most {self.max_patches} patches"
        weights = "" if self.weights == "shipped" else f", against {WEIGHT_NAMES[self.weights]}"
        return (f"{ATTACKERS[self.attacker]}, filter {self.filter}{strength}, budget {self.budget} queries{cap}, "
                f"seed {self.seed}{weights}")


def run_attack(victim: str, x: torch.Tensor, y: int | None, settings: AttackSettings,
               callbacks: Sequence[Callback] = (), model: Victim | None = None) -> AttackResult:
    """One attack of the registry as the page's settings say, on the uploaded ``model`` when
    ``settings.weights`` is :data:`ONNX`; ``callbacks`` see every step as it happens. The RL
    attackers raise ``AgentError`` when the victim has no such agent."""
    if (settings.weights == ONNX) != (model is not None):
        raise ValueError("an uploaded model goes with weights=ONNX, and only with it")
    if settings.attacker not in ATTACKERS:
        raise ValueError(f"unknown attacker {settings.attacker!r}; known: {', '.join(ATTACKERS)}")
    params: dict = {"filter": settings.filter, "strength": settings.strength}
    if settings.attacker == "rl":
        params["agent"] = shipped_agent(victim)[0]
    elif settings.attacker == "adaptive":
        params["agent"] = adaptive_agent(victim, settings.weights)[0]
    attack = make_attack(settings.attacker, **params)
    return attack.run(network_for(victim, settings.weights, model), x, y, budget=settings.budget,
                      max_patches=settings.max_patches, seed=settings.seed,
                      callbacks=callbacks)


def attack_files(victim: str, sample: Sample, settings: AttackSettings, result: AttackResult,
                 model: Victim | None = None) -> dict[str, tuple[bytes, str]]:
    """What ``attack --out DIR`` writes, as ``{file name: (bytes, MIME type)}`` for download
    buttons: ``adversarial.npy``, ``mask.npy`` (the distorted elements), ``trajectory.json``,
    ``result.json`` and viewable copies (``.csv`` for an ECG, ``.png`` for an image, ``.mp4`` for
    a video). Names start with the input's name, so that downloads of several inputs do not clash."""
    network = network_for(victim, settings.weights, model)
    run = run_record(settings.seed, victim, network.sha256)
    summary = {"run": run, "modality": network.modality, "victim": victim,
               **({} if model is None else cast("OnnxClassifier", model.network).record()),  # an uploaded ONNX model
               "input": sample.name, **asdict(settings), **result.summary()}
    prefix = re.sub(r"[^A-Za-z0-9]+", "-", sample.name).strip("-").lower() or "input"
    with tempfile.TemporaryDirectory() as folder:
        write_attack(Path(folder), result, sample, summary, network)
        return {f"{prefix}-{path.name}": (path.read_bytes(), MIME.get(path.suffix, "application/octet-stream"))
                for path in sorted(Path(folder).iterdir())}


@dataclass
class AttackRun:
    """A finished attack as the Attack page keeps it in ``st.session_state`` across reruns."""

    number: int  # counts the session's attacks: a new one gets fresh widgets (its replay starts at the end)
    victim: str
    sample: Sample
    settings: AttackSettings
    result: AttackResult
    clean_top: tuple[str, float]  # the attacked weights' top-1 on the clean input: step 0 of the replay
    files: dict[str, tuple[bytes, str]]
    network: int | str | None = None  # network_version of the network attacked

    def is_on(self, victim: str, sample: Sample, weights: str = "shipped", network: int | str | None = None) -> bool:
        """Whether this run attacked ``sample`` of ``victim`` (same name and same values) on the
        network ``weights`` in its version ``network`` (see :func:`network_version`)."""
        return (self.victim == victim and self.sample.name == sample.name
                and (self.settings.weights, self.network) == (weights, network)
                and self.sample.x.shape == sample.x.shape and torch.equal(self.sample.x, sample.x))
