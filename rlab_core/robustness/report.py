"""A robustness run's report (:class:`RobustnessReport`), and where reports live.

The JSON a report writes (:meth:`RobustnessReport.to_json`) is the one the shipped
``benchmarks/robustness-<victim>.json`` hold, and :meth:`RobustnessReport.from_json` reads any of
them back unchanged, so the app, the tests and a notebook read old and new reports alike.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import torch

from rlab_core import ROOT, background
from rlab_core.files import atomic_write_text
from rlab_core.filters import MIX
from rlab_core.robustness.config import RobustnessConfig
from rlab_core.robustness.evaluate import records_of
from rlab_core.robustness.markdown import markdown
from rlab_core.victims import Victim, get_profile
from rlab_core.victims.victim import hardened_run_folder

REPORTS = ROOT / "benchmarks"  # the shipped reports: benchmarks/robustness-<victim>.json


class _FlatJson:
    """A report part whose JSON is its fields as they are (``asdict`` and back)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # the subclasses are dataclasses

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(**data)


@dataclass(frozen=True)
class SideReport(_FlatJson):
    """One side of the report (before: the shipped weights; after: the hardened ones) on the test
    split. Rates are in [0, 1]; a median counts a failure as the whole budget; ``per_filter[f]``
    is the RL attack's summary with filter ``f``; ``attacks`` keeps every attack's record
    (:func:`~rlab_core.robustness.evaluate.by_setting`)."""

    clean_accuracy: float  # on the whole test split
    rl_success_rate: float | None
    rl_median_queries: float | None
    square_success_rate: float | None
    square_median_queries: float | None
    per_filter: dict[str, dict[str, Any]]
    adversarial_accuracy: float | None  # on the held-out adversarial inputs that fooled the shipped weights
    attacks: dict[str, dict[str, list]]

    def records(self, setting: str) -> list[dict]:
        """The attack records of ``setting`` (``mix``, a filter or ``square_linf``), in input order."""
        return records_of(self.attacks, setting)

@dataclass(frozen=True)
class AdaptiveReport(_FlatJson):
    """The adaptive attacker: an agent trained again against the hardened weights with the shipped
    agent's ``recipe``, attacking the same test inputs with the mixture."""

    inputs: int
    success_rate: float | None
    median_queries: float | None
    filter: str
    agent: str  # where its agent was saved
    recipe: dict[str, Any]
    validation: Any  # its training's validation record, as the agent's rlab.json keeps it
    chosen: Any  # which policy its training kept
    training_seconds: float | None
    attacks: dict[str, dict[str, list]]

@dataclass(frozen=True)
class RobustnessReport:
    """What a robustness run measured (see :mod:`rlab_core.robustness`). ``evaluation``,
    ``generation`` and ``fine_tuning`` stay dicts: the settings of the test attacks, the
    adversarial samples found per filter setting, and the fine-tuning's epochs. ``samples`` are
    test inputs that fooled the shipped weights and not the hardened ones (:func:`replay_sample`
    rebuilds each)."""

    run: dict[str, Any]  # the run record: versions, commit, seed, the network's hash
    config: RobustnessConfig
    modality: str
    command: str  # the command that reruns it
    hardened_weights: str
    hardened_weights_sha256: str
    shipped_agent_sha256: str
    evaluation: dict[str, Any]
    generation: dict[str, Any]
    fine_tuning: dict[str, Any]
    before: SideReport
    after: SideReport
    adaptive: AdaptiveReport
    samples: list[dict[str, Any]]
    seconds: dict[str, float]  # per phase, and the total
    machine: str = ""  # reports of quick runs before it was recorded have none

    @property
    def victim(self) -> str:
        return self.config.victim

    @property
    def preset(self) -> str:
        return self.config.preset

    def to_json(self) -> dict[str, Any]:
        """The report as its ``.json`` holds it."""
        return {"run": self.run, "victim": self.victim, "modality": self.modality, "preset": self.preset,
                "command": self.command, "config": asdict(self.config), "hardened_weights": self.hardened_weights,
                "hardened_weights_sha256": self.hardened_weights_sha256,
                "shipped_agent_sha256": self.shipped_agent_sha256, "evaluation": self.evaluation,
                "generation": self.generation, "fine_tuning": self.fine_tuning, "before": self.before.to_json(),
                "after": self.after.to_json(), "adaptive": self.adaptive.to_json(), "samples": self.samples,
                "seconds": self.seconds, "machine": self.machine}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RobustnessReport:
        """The report a ``.json`` holds (:meth:`to_json`'s inverse)."""
        return cls(run=data["run"], config=RobustnessConfig(**data["config"]), modality=data["modality"],
                   command=data["command"], hardened_weights=data["hardened_weights"],
                   hardened_weights_sha256=data["hardened_weights_sha256"],
                   shipped_agent_sha256=data["shipped_agent_sha256"], evaluation=data["evaluation"],
                   generation=data["generation"], fine_tuning=data["fine_tuning"],
                   before=SideReport.from_json(data["before"]), after=SideReport.from_json(data["after"]),
                   adaptive=AdaptiveReport.from_json(data["adaptive"]), samples=data["samples"],
                   seconds=data["seconds"], machine=data.get("machine", ""))


def save_report(report: RobustnessReport, out: Path) -> None:
    """The report as ``out`` (.json, what the Robustness page reads) and its before/after table beside it (.md)."""
    background.write_json(out, report.to_json(), compact=True)
    atomic_write_text(Path(out).with_suffix(".md"), markdown(report))


def comparison_rows(report: RobustnessReport) -> list[dict]:
    """The report's headline figures as table rows: before, after, and the adaptive attacker."""
    rows: list[dict] = []
    for name, side in (("before", report.before), ("after", report.after)):
        rows.append({"": name, "clean accuracy": side.clean_accuracy, "RL success (mix)": side.rl_success_rate,
                     "RL median queries": side.rl_median_queries, "Square success": side.square_success_rate,
                     **{f: side.per_filter[f]["success_rate"] for f in MIX},
                     "held-out adversarial accuracy": side.adversarial_accuracy})
    rows.append({"": "adaptive agent (after)", "RL success (mix)": report.adaptive.success_rate,
                 "RL median queries": report.adaptive.median_queries})
    return rows


@dataclass(frozen=True)
class ReplayedSample:
    """A report's sample rebuilt for display: the test item and the adversarial input that fooled the shipped weights."""

    sample: object  # rlab_core.sample.Sample
    x_adv: torch.Tensor
    grid: object  # PatchGrid
    patch_filters: dict


def replay_sample(victim: str, entry: dict) -> ReplayedSample:
    """Rebuild a report sample from its test index and trajectory (no query, see ``attack.replay``)."""
    from rlab_core.attacks.replay import TrajectoryReplay

    sample = get_profile(victim).dataset("test")[entry["index"]]
    state = TrajectoryReplay(sample.x, Victim.builtin(victim), entry["filter"], None, entry["seed"]).run(entry["trajectory"])
    return ReplayedSample(sample, state.x_adv(), state.grid, state.patch_filters())


def run_folder(victim: str) -> Path:
    """Where the Robustness page's run of ``victim`` goes: ``runs/robustness/<victim>/``."""
    return hardened_run_folder(victim)


def shipped_report_path(victim: str) -> Path:
    return REPORTS / f"robustness-{victim}.json"
