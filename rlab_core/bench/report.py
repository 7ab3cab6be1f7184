"""A finished run's report (:class:`BenchReport`): the figures computed from its records, and where reports live.

The JSON a report writes (:meth:`BenchReport.to_json`) is the one the published
``benchmarks/bench-<victim>.json`` hold, and :meth:`BenchReport.from_json` reads any of them back
unchanged, so the app, the tests and a notebook read old and new reports alike.
"""
from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlab_core import ROOT, relative_to_root
from rlab_core.bench.config import BenchConfig
from rlab_core.run_record import run_record
from rlab_core.victims import file_sha256, get_profile

CURVE_POINTS = 48
RUNS = ROOT / "runs" / "bench"  # the app's live runs: runs/bench/<victim>/live.json
REPORTS = ROOT / "benchmarks"  # the published runs: benchmarks/bench-<victim>.json
LIVE = "live.json"
MODEL_FILE = "model.onnx"  # an uploaded model the app's live run attacks, kept beside its results


@dataclass(frozen=True)
class BenchReport:
    """What a run measured. ``rows`` (the table, one per attack) and ``samples`` (one record per
    input and attack) stay dicts: their keys depend on the modality (SNR or SSIM) and on each
    attack's own details. ``curves[attack]`` is ``{"queries": grid, "success_rate": rates}``."""

    run: dict[str, Any]  # the run record: versions, commit, seed, the network's hash
    config: BenchConfig
    modality: str
    inputs: int  # the inputs attacked (fewer than ``config.n`` when fewer are classified correctly)
    rl_median_l2: float | None  # the matched attacks' L2 where rl failed
    command: str
    machine: str
    seconds: float
    rows: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    curves: dict[str, dict[str, list]]

    def to_json(self) -> dict[str, Any]:
        """The report as its ``.json`` holds it (``model`` only when one was attacked: older reports have none)."""
        config = self.config
        model = {} if config.model is None else {"model": str(config.model)}
        return {"run": self.run, "victim": config.victim, "modality": self.modality, "attacks": list(config.attacks),
                "n": config.n, "budget": config.budget, "seed": config.seed, "filter": config.filter, **model,
                "inputs": self.inputs, "rl_median_l2": self.rl_median_l2, "command": self.command,
                "machine": self.machine, "seconds": self.seconds, "rows": self.rows, "samples": self.samples,
                "curves": self.curves}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchReport:
        """The report a ``.json`` holds (:meth:`to_json`'s inverse)."""
        model = data.get("model")
        config = BenchConfig(data["victim"], tuple(data["attacks"]), data["n"], data["budget"], data["seed"],
                             data["filter"], None if model is None else Path(model))
        return cls(run=data["run"], config=config, modality=data["modality"], inputs=data["inputs"],
                   rl_median_l2=data["rl_median_l2"], command=data["command"], machine=data["machine"],
                   seconds=data["seconds"], rows=data["rows"], samples=data["samples"], curves=data["curves"])


def summarise(records: list[dict], budget: int) -> dict:
    """One row of the table: an attack's figures over its samples (failures at the budget)."""
    wins = [r for r in records if r["success"]]
    queries = [r["queries"] if r["success"] else budget for r in records]

    def mean(key: str, rows: list[dict]) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    quality = "snr_db" if any("snr_db" in r for r in records) else "ssim"
    return {
        "samples": len(records),
        "success_rate": round(float(np.mean([r["success"] for r in records])), 4) if records else None,
        "mean_queries": round(float(np.mean(queries)), 2) if records else None,
        "median_queries": float(np.median(queries)) if records else None,
        "median_queries_successes": float(np.median([r["queries"] for r in wins])) if wins else None,
        "mean_l0_patches": mean("l0_patches", wins),
        "mean_l2": mean("l2", wins),
        "mean_linf": mean("linf", wins),
        f"mean_{quality}": mean(quality, wins),
        "seconds_per_sample": mean("seconds", records),
    }


def curve_grid(budget: int, points: int = CURVE_POINTS) -> list[int]:
    """Query counts from 1 to ``budget``, geometrically spaced (integers, no repeats)."""
    return sorted({int(q) for q in np.geomspace(1, budget, points).round()} | {budget})


def curves(samples: list[dict], attacks: Sequence[str], budget: int) -> dict[str, dict[str, list]]:
    """Per attack, the fraction of its samples fooled within ``q`` queries for ``q`` on the grid."""
    grid = curve_grid(budget)
    out: dict[str, dict[str, list]] = {}
    for name in attacks:
        rows = [r for r in samples if r["attack"] == name]
        fooled = np.array([r["queries"] for r in rows if r["success"]])
        rates = [round(float((fooled <= q).sum() / len(rows)), 4) if rows else None for q in grid]
        out[name] = {"queries": grid, "success_rate": rates}
    return out


def make_report(config: BenchConfig, out: Path, samples: list[dict], machine: str, seconds: float,
                fallback: float | None) -> BenchReport:
    """The report of ``config``'s run, whose records are ``samples``, written to ``out`` on ``machine``."""
    rows = [{"attack": a, **summarise([r for r in samples if r["attack"] == a], config.budget)} for a in config.attacks]
    return BenchReport(
        run=run_record(config.seed, config.victim, None if config.model is None else file_sha256(config.model)),
        config=config,
        modality=get_profile(config.victim).modality,
        inputs=len({r["index"] for r in samples}),
        rl_median_l2=fallback,
        command=config.command(relative_to_root(out)),
        machine=f"{platform.machine()}, {machine}, 1 torch thread per task",
        seconds=round(seconds, 1),
        rows=rows,
        samples=samples,
        curves=curves(samples, config.attacks, config.budget),
    )


# ---------------------------------------------------------------------------------- where reports live
def published_reports(folder: Path | None = None) -> dict[str, Path]:
    """The published runs, ``{victim: benchmarks/bench-<victim>.json}``, sorted by victim."""
    paths = sorted(Path(folder or REPORTS).glob("bench-*.json"))
    return {path.stem.removeprefix("bench-"): path for path in paths}


def run_folder(victim: str, runs: Path | None = None) -> Path:
    """Where the app's live run of ``victim`` goes: ``runs/bench/<victim>/``."""
    return Path(runs or RUNS) / victim
