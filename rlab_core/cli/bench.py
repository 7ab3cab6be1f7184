"""``rlab bench``: many test inputs x many attacks -> one results table, here or on a Ray cluster.

The run's own options are :class:`~rlab_core.bench.BenchConfig`'s fields; the others say where
it runs and where it writes."""
from __future__ import annotations

import argparse
from pathlib import Path

from rlab_core import options
from rlab_core.bench.config import BenchConfig
from rlab_core.cli.common import STDERR, UsageError, stopped_summary
from rlab_core.victims.profiles import MODALITIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modality", required=True, choices=MODALITIES)
    parser.add_argument("--victim", help="default: the modality's default victim")
    options.add_options(parser, BenchConfig)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--ray", action="store_true", help="run the inputs as tasks on a local Ray (ray.init())")
    where.add_argument("--ray-address", help="run the inputs as tasks on an existing Ray cluster (HEAD:6379)")
    parser.add_argument("--resume", action="store_true", help="continue the run in FILE.jsonl, skipping finished inputs")
    parser.add_argument("--out", type=Path, required=True, help="FILE.json; FILE.jsonl, FILE.md and FILE.png beside it")
    parser.add_argument("--progress", type=Path, help="keep the run's progress in this JSON file (the app polls it)")


def run(args: argparse.Namespace) -> int:
    from rlab_core.agents.agent import AgentError
    from rlab_core.background import Progress, write_json
    from rlab_core.bench import BenchError, rows_table, run_bench
    from rlab_core.cli.common import resolve_victim
    from rlab_core.run_record import run_record
    from rlab_core.victims.jail import ModelStopped

    victim = resolve_victim(args.modality, args.victim)
    if args.out.suffix != ".json":
        raise UsageError(f"--out must name a .json file, got {args.out}")
    config = options.from_args(BenchConfig, args, victim=victim)
    progress = None if args.progress is None else Progress(args.progress, victim=victim, command=config.command(args.out))
    try:
        config.check()
        report = run_bench(config, args.out, resume=args.resume, use_ray=args.ray, ray_address=args.ray_address,
                           callbacks=[STDERR] if progress is None else [STDERR, progress])
    except (BenchError, AgentError) as err:
        if progress is not None:
            progress.finish("failed", error=str(err))
        raise UsageError(str(err)) from None
    except ModelStopped as stopped:
        if progress is not None:
            progress.finish("failed", error=str(stopped))
        record = {"run": run_record(config.seed, victim), "victim": victim, "command": config.command(args.out),
                  **stopped_summary(stopped),
                  "note": f"the inputs finished before the stop are in {args.out.with_suffix('.jsonl')}; --resume "
                          "goes on from there"}
        write_json(args.out, record)
        raise
    except BaseException as err:
        if progress is not None:
            progress.finish("failed", error=f"{type(err).__name__}: {err}")
        raise
    if progress is not None:
        progress.finish("done", report=str(args.out))
    print(f"{victim}: {report.inputs} inputs, budget {config.budget}, seed {config.seed}")
    print(rows_table(report))
    print(f"wrote {args.out}, {args.out.with_suffix('.md')}, {args.out.with_suffix('.png')} and "
          f"{args.out.with_suffix('.jsonl')}")
    return 0
