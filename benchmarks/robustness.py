"""Adversarial fine-tuning of one victim against its RL agent: the before/after report.

Runs :func:`rlab_core.robustness.run_robustness` (see that package for the method) and writes
``benchmarks/robustness-<victim>.json`` (the Robustness page's shipped report) and ``.md`` (a
before/after table). The hardened weights go beside the shipped ones, in
``assets/victims/<victim>-hardened.pt``, and the adaptive agent in
``assets/agents/<victim>-hardened-agent.zip``; the shipped weights and agent are never changed.
``--quick`` (a check of the pipeline) writes everything under ``runs/robustness/<victim>/quick/``
instead, unless ``--out`` says where. The run's options (preset, seed) are
:class:`~rlab_core.robustness.RobustnessConfig`'s, as on ``python -m rlab_core robustness``.

Usage: python -m benchmarks.robustness --victim ecg-cnn [--quick | --full] [--seed S] [--out FILE.json]
                                       [--progress FILE.json]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from rlab_core import options, robustness
from rlab_core.background import Progress
from rlab_core.callbacks import Log
from rlab_core.victims import hardened_path

OUT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", required=True)
    options.add_options(parser, robustness.RobustnessConfig)
    parser.add_argument("--out", type=Path, help="default: benchmarks/robustness-<victim>.json")
    parser.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (bars show only on a terminal)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = robustness.config_for(args.victim, args.preset, args.seed)
    if args.out is not None:
        out = args.out
    elif config.preset == "quick":
        out = robustness.run_folder(args.victim) / "quick" / "report.json"
    else:
        out = OUT / f"robustness-{args.victim}.json"
    weights = hardened_path(args.victim, out.parent if config.preset == "quick" else None)
    progress = Progress(args.progress, bars=True, labels=robustness.PHASES)
    stderr = Log(lambda line: print(line, file=sys.stderr, flush=True))
    report = robustness.run_robustness(config, weights, [progress, stderr])
    command = " ".join(["python -m benchmarks.robustness --victim", args.victim, *options.argv(config)])
    report = replace(report, command=command)
    robustness.save_report(report, out)
    progress.finish("done", report=str(out))
    print(robustness.markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md')}; hardened weights: {report.hardened_weights}")
    return out


if __name__ == "__main__":
    main()
