"""Adversarial fine-tuning of one victim against its RL agent: the before/after report.

Runs :func:`rlab_core.robustness.run_robustness` (see that module for the method) and writes
``benchmarks/robustness-<victim>.json`` (the Robustness page's shipped report) and ``.md`` (a
before/after table). The hardened weights go beside the shipped ones, in
``assets/victims/<victim>-hardened.pt``, and the adaptive agent in
``assets/agents/<victim>-hardened-agent.zip``; the shipped weights and agent are never changed.
``--quick`` (a check of the pipeline) writes everything under ``runs/robustness/<victim>/quick/``
instead, unless ``--out`` says where.

Usage: python -m benchmarks.robustness --victim ecg-cnn [--quick | --full] [--seed S] [--out FILE.json]
                                       [--progress FILE.json]
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

from rlab_core import robustness
from rlab_core.victims import hardened_path

OUT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", required=True)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a check of the pipeline (about a minute for ECG)")
    size.add_argument("--full", action="store_true", help="the published figures' settings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="default: benchmarks/robustness-<victim>.json")
    parser.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (bars show only on a terminal)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    preset = "quick" if args.quick else "full" if args.full else "default"
    config = robustness.config_for(args.victim, preset, args.seed)
    if args.out is not None:
        out = args.out
    elif preset == "quick":
        out = robustness.run_folder(args.victim) / "quick" / "report.json"
    else:
        out = OUT / f"robustness-{args.victim}.json"
    weights = hardened_path(args.victim, out.parent if preset == "quick" else None)
    progress = robustness.Progress(args.progress, bars=True, log=lambda line: print(line, file=sys.stderr, flush=True))
    report = robustness.run_robustness(config, weights, progress)
    flags = "".join(f" --{name}" for name in ("quick", "full") if getattr(args, name))
    seed = f" --seed {args.seed}" if args.seed else ""
    report["command"] = f"python -m benchmarks.robustness --victim {args.victim}{flags}{seed}"
    report["machine"] = f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)"
    robustness.save_report(report, out)
    print(robustness.markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md')}; hardened weights: {report['hardened_weights']}")
    return out


if __name__ == "__main__":
    main()
