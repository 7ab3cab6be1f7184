"""``rlab robustness``: adversarial fine-tuning against the victim's RL agent, and the before/after report.

The run's own options (its preset and seed) are :class:`~rlab_core.robustness.RobustnessConfig`'s;
the others say where it writes."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlab_core import options
from rlab_core.cli.common import STDERR, UsageError, resolve_victim
from rlab_core.robustness.config import RobustnessConfig
from rlab_core.victims.profiles import MODALITIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modality", required=True, choices=MODALITIES)
    parser.add_argument("--victim", help="default: the modality's default victim")
    options.add_options(parser, RobustnessConfig)
    parser.add_argument("--out", type=Path, help="write the report here (FILE.json, and FILE.md beside it)")
    parser.add_argument("--weights", type=Path, help="where the hardened weights go (default: assets/victims/"
                                                     "<victim>-hardened.pt; with --quick, beside --out or in runs/)")
    parser.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (the app polls it)")
    parser.add_argument("--resume", action="store_true", help="continue the run stopped in FILE.phases/ (beside --out) "
                                                              "from its last finished step")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    from rlab_core import robustness as rb
    from rlab_core.agents.agent import AgentError
    from rlab_core.background import Progress
    from rlab_core.victims import hardened_path

    victim = resolve_victim(args.modality, args.victim)
    if args.out is not None and args.out.suffix != ".json":
        raise UsageError(f"--out must name a .json file, got {args.out}")
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out: a run keeps its finished steps beside its report")
    try:
        config = rb.config_for(victim, args.preset, args.seed)
    except rb.RobustnessError as err:
        raise UsageError(str(err)) from None
    quick_folder = args.out.parent if args.out is not None else rb.run_folder(victim) / "quick"
    weights = args.weights or hardened_path(victim, quick_folder if config.preset == "quick" else None)
    progress = Progress(args.progress, bars=True, labels=rb.PHASES, victim=victim, preset=config.preset,
                        command=config.command())
    try:
        report = rb.run_robustness(config, weights, [progress, STDERR], resume=args.resume,
                                   phases=None if args.out is None else rb.phases_folder(args.out))
    except (rb.RobustnessError, AgentError) as err:
        progress.finish("failed", error=str(err))
        raise UsageError(str(err)) from None
    except BaseException as err:
        progress.finish("failed", error=f"{type(err).__name__}: {err}")
        raise
    if args.out is not None:
        rb.save_report(report, args.out)
    progress.finish("done", report=str(args.out) if args.out is not None else None)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(rb.markdown(report))
        if args.out is not None:
            print(f"wrote {args.out} and {args.out.with_suffix('.md')}; hardened weights: {report.hardened_weights}")
    return 0
