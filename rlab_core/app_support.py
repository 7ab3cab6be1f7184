"""What the app's pages share: cached loading and prediction, and running an attack.

Every widget change reruns a page from the top, so anything slow goes through Streamlit's caches:
``st.cache_resource`` for objects kept as they are (models, datasets), ``st.cache_data`` for
results (copied on every read, so a page cannot alter a cached value). The functions also work
outside a running app (the caches then simply stay in memory), so tests can call them.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import streamlit as st
import torch

from rlab_core import plots
from rlab_core.agents.agent import (
    Agent,
    AgentError,
    adaptive_agent_path,
    agent_path,
    load_adaptive_agent,
    load_agent,
)
from rlab_core.attacks import DEFAULT_BUDGET, make_attack
from rlab_core.attacks.output import write_attack
from rlab_core.attacks.result import AttackResult, StepRecord
from rlab_core.explanations import Explanation, explain
from rlab_core.io import LoadedInput, load_input
from rlab_core.run_record import run_record
from rlab_core.sample import Sample
from rlab_core.victims import WEIGHT_CHOICES, Victim, get_profile, weights_file

if TYPE_CHECKING:
    from rlab_core.victims.onnx_model import OnnxClassifier

# No function here is named test_*: pytest would collect it from any test module that imports it.

TOP_K = 5
GALLERY_SIZE = 8  # the test samples the gallery shows as thumbnails
ONNX = "onnx"  # the weights choice of an uploaded ONNX model
WEIGHT_NAMES = {**WEIGHT_CHOICES, ONNX: "your ONNX model"}


def builtin_victim(victim: str, weights: str = "shipped") -> Victim:
    """Built-in ``victim`` with ``weights`` (a key of ``WEIGHT_CHOICES``), loaded once per version of
    its weights file, so that weights hardened again while the app runs are picked up. Pages call it
    first to say plainly when the weights are missing: ``VictimError`` is never cached, so the app
    picks the weights up as soon as they exist."""
    return _builtin_victim(victim, weights, modified(weights_file(victim, weights)))


@st.cache_resource(show_spinner="Loading the victim…", max_entries=16)
def _builtin_victim(victim: str, weights: str, modified: int | None) -> Victim:
    return Victim.builtin(victim, weights)


@st.cache_resource(show_spinner="Loading the test split…")
def victim_test_split(victim: str):
    """The victim's seeded test split: ``len()`` and indexing give :class:`Sample` items."""
    return get_profile(victim).dataset("test")


def victim_test_sample(victim: str, index: int) -> Sample:
    """Item ``index`` of the victim's test split, as ``--sample N`` picks it on the command line."""
    return victim_test_split(victim)[index]


@dataclass(frozen=True)
class Thumbnail:
    """One test sample in the gallery: its picture (a PNG), name and true label (``None``: unlabelled)."""

    png: bytes
    name: str
    label: str | None


@st.cache_data(show_spinner="Drawing the gallery…", max_entries=16)
def gallery(victim: str, count: int = GALLERY_SIZE) -> list[Thumbnail]:
    """Thumbnails of the first ``count`` items of the victim's test split (fewer if it is shorter)."""
    split, names = victim_test_split(victim), get_profile(victim).class_names
    items = [split[index] for index in range(min(count, len(split)))]
    return [Thumbnail(plots.thumbnail(item.x), item.name, None if item.y is None else names[item.y]) for item in items]


@st.cache_data(show_spinner="Reading the file…", max_entries=16)
def load_upload(victim: str, data: bytes, filename: str, fs: float | None = None, beat: int = 0) -> LoadedInput:
    """An uploaded file as an input for ``victim``; raises ``InputError`` with a message for the user."""
    return load_input(data, filename, get_profile(victim), fs=fs, beat=beat)


@st.cache_resource(show_spinner="Checking the uploaded model…", max_entries=4,
                   hash_funcs={bytes: lambda data: hashlib.sha256(data).hexdigest()})
def onnx_model(victim: str, data: bytes, filename: str) -> Victim:
    """An uploaded ONNX classifier shaped like ``victim``, checked once per file; raises ``VictimError``."""
    return Victim.from_onnx(data, like=victim, filename=filename)


def modified(path: Path) -> int | None:
    """The file's modification time, part of a cache key (``None`` while it does not exist)."""
    return path.stat().st_mtime_ns if path.exists() else None


def network_for(victim: str, weights: str, model: Victim | None) -> Victim:
    """The network a page works on: the uploaded ``model`` if there is one, else the victim with ``weights``."""
    return model if model is not None else builtin_victim(victim, weights)


def network_version(victim: str, weights: str, model: Victim | None) -> int | str | None:
    """What tells one version of the chosen network from another, for cache keys: the uploaded
    model's hash, the hardened file's time (``None`` for the shipped weights)."""
    if model is not None:
        return model.sha256
    return None if weights == "shipped" else modified(weights_file(victim, weights))


def top_classes(victim: str, x: torch.Tensor, k: int = TOP_K, weights: str = "shipped",
                model: Victim | None = None) -> list[tuple[str, float]]:
    """The ``k`` most probable classes for ``x`` of the victim with ``weights`` (or the uploaded
    ``model``, with ``weights`` :data:`ONNX`), best first, as ``(name, probability)``."""
    return _top_classes(victim, x, k, weights, network_version(victim, weights, model), model)


# Inputs are keyed by their exact bytes: Streamlit's own hashing samples large arrays, which would
# let two inputs that differ in a few pixels (an input and its adversarial copy) share one entry.
@st.cache_data(show_spinner="Asking the victim…", max_entries=256,
               hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def _top_classes(victim: str, x: torch.Tensor, k: int, weights: str, version: int | str | None,
                 _model: Victim | None) -> list[tuple[str, float]]:
    network = network_for(victim, weights, _model)
    probs = network.probabilities(x)
    top = np.argsort(probs, kind="stable")[::-1][:k]
    return [(network.class_names[int(i)], float(probs[i])) for i in top]


# ------------------------------------------------------------------------------------- attacks
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
    warnings: list[str] = []
    agent = (load_agent(victim, warn=warnings.append) if weights == "shipped"
             else load_adaptive_agent(builtin_victim(victim, weights), warnings.append))
    return agent, tuple(warnings)


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
               on_step: Callable[[StepRecord], None] | None = None, model: Victim | None = None) -> AttackResult:
    """One attack of the registry as the page's settings say, on the uploaded ``model`` when
    ``settings.weights`` is :data:`ONNX`; ``on_step`` sees every step as it happens. The RL
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
                      callbacks=() if on_step is None else (on_step,))


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


# ---------------------------------------------------------------------------------- explanations
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
                  on_progress: Callable[[str, float], None] | None = None, weights: str = "shipped",
                  model: Victim | None = None) -> Explanation:
    """The maps of ``sample`` (the network's clean top-1 explained), scored when it has a ground-truth
    mask; the network is the victim with ``weights``, or the uploaded ``model`` (black-box methods
    only). ``on_progress`` sees each method start, unless the result comes from the cache. Raises
    ``AgentError`` if an RL method is asked for while the victim has no agent."""
    return _explanation(victim, sample.x, sample.mask, tuple(methods), int(budget), int(seed),
                        modified(agent_path(victim)), weights, network_version(victim, weights, model),
                        on_progress, model)


# Keyed by the exact bytes of the input and mask (see top_classes), by the agent file's time (a new
# or retrained agent gives new RL maps) and by the network's version. The progress callback and the
# uploaded model (leading _) are not part of the key: the version stands for the model.
@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def _explanation(victim: str, x: torch.Tensor, mask: torch.Tensor | None, methods: tuple[str, ...], budget: int,
                 seed: int, agent_modified: int | None, weights: str, network: int | str | None,
                 _on_progress: Callable[[str, float], None] | None, _model: Victim | None) -> Explanation:
    try:
        agent, warnings = shipped_agent(victim)
    except AgentError:
        if set(RL_METHODS) & set(methods):
            raise
        agent, warnings = None, ()  # explain() then scores without dice_at_rl_area and says so
    explanation = explain(network_for(victim, weights, _model), x, None, methods, budget, seed, truth=mask, agent=agent,
                          on_progress=_on_progress)
    explanation.notes[:0] = warnings
    return explanation


def score_rows(explanation: Explanation) -> list[dict]:
    """The score table: per method its scores (``None`` where not defined) and the victim queries
    it spent (``None`` for the white-box methods, which read gradients instead)."""
    assert explanation.scores is not None  # shown for a scored explanation only
    return [{"method": name, **{column: explanation.scores[name][column] for column in SCORE_COLUMNS},
             "queries": m.queries} for name, m in explanation.maps.items()]


# ------------------------------------------------------------------------- reports: robustness, benchmarks
def json_report(path: Path) -> dict | None:
    """The JSON report at ``path`` (``None`` while there is none or it cannot be read), re-read
    when the file changes."""
    path = Path(path)
    return _json_report(str(path), path.stat().st_mtime_ns) if path.exists() else None


@st.cache_data(show_spinner=False, max_entries=32)
def _json_report(path: str, modified: int) -> dict | None:
    from rlab_core.background import read_json

    return read_json(Path(path))


@st.cache_data(show_spinner=False, max_entries=64)
def robustness_sample(victim: str, entry: dict):
    """A report's sample rebuilt from the test split and its trajectory (no query)."""
    from rlab_core import robustness

    return robustness.replay_sample(victim, entry)


def bench_report(path: Path) -> dict | None:
    """The benchmark report at ``path``, if it is one (:func:`json_report`)."""
    report = json_report(path)
    return report if isinstance(report, dict) and {"rows", "curves", "budget"} <= report.keys() else None
