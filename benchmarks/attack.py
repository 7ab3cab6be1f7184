"""RL agent against random order, per filter and for the mixture, on one victim's test inputs.

For each of the first ``--n`` correctly classified test inputs (in the split's seeded order;
input ``i`` attacked with seed ``i``), every attack runs with every filter setting at the same
budget and the 20% patch cap. Writes ``benchmarks/attack-<victim>.json`` and ``.md``. With
``--workers`` the attacks run in several processes; each attack's seed is its input's, so the
figures do not depend on the number of workers (``seconds per attack`` does, on a loaded machine).
Each attack's figures are appended to ``<out>.jsonl`` as it finishes; ``--resume`` skips the
attacks found there, so an interrupted run goes on where it stopped.

Usage: python -m benchmarks.attack --victim image-cnn [--n 200] [--budget 1000] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from pathlib import Path

import numpy as np
import torch

from rlab_core.agents.agent import load_agent
from rlab_core.attacks import RandomOrderAttack, RLAttack
from rlab_core.callbacks import Log
from rlab_core.filters import MIX
from rlab_core.run_record import run_record
from rlab_core.victims import Victim

OUT = Path(__file__).resolve().parent
SETTINGS = ("mix", *MIX)
ATTACKERS = ("rl", "random")


def clean_inputs(victim: str, n: int) -> list[tuple[int, torch.Tensor, int]]:
    """The first ``n`` test items the victim classifies correctly (all of them when unlabelled)."""
    network = Victim.builtin(victim)
    data = network.dataset("test")
    chosen = []
    for i in range(len(data)):
        sample = data[i]
        predicted = network.predict(sample.x)
        if sample.y is None or predicted == sample.y:
            chosen.append((i, sample.x, predicted))
        if len(chosen) == n:
            break
    return chosen


def summarise(results: list[dict], budget: int) -> dict:
    """One row of the table from the attacks' summaries (:meth:`AttackResult.summary`)."""
    wins = [r for r in results if r["success"]]
    queries = [r["queries"] if r["success"] else budget for r in results]
    quality = "snr_db" if "snr_db" in results[0] else "ssim"

    def mean_over_wins(key: str, digits: int) -> float | None:
        return round(float(np.mean([r[key] for r in wins])), digits) if wins else None

    return {
        "inputs": len(results),
        "success_rate": round(float(np.mean([r["success"] for r in results])), 4),
        "median_queries": float(np.median(queries)),
        "median_queries_successes": float(np.median([r["queries"] for r in wins])) if wins else None,
        "mean_queries": round(float(np.mean(queries)), 2),
        "mean_l0_patches": mean_over_wins("l0_patches", 3),
        "mean_l2": mean_over_wins("l2", 4),
        "mean_linf": mean_over_wins("linf", 4),
        f"mean_{quality}": mean_over_wins(quality, 4),
        "remove_rate": round(float(np.mean([r["remove_rate"] for r in results])), 4),
        "seconds_per_attack": round(float(np.mean([r["seconds"] for r in results])), 4),
    }


def markdown(report: dict) -> str:
    quality = next(k for k in next(iter(report["rows"])) if k.startswith("mean_s"))
    lines = [f"# `{report['victim']}`: RL agent vs random order", "",
             (f"{report['inputs']} correctly classified test inputs, budget {report['budget']} queries, patch cap 20% "
              f"of the grid, seed = input index. Made by `{report['command']}` on {report['machine']}."), "",
             (f"| attack | filter | success | median queries | median (successes) | mean L0 patches | mean L2 | "
              f"mean Linf | {quality} | remove rate | s / attack |"), "|---" * 11 + "|"]
    for row in report["rows"]:
        lines.append(f"| {row['attack']} | {row['filter']} | {row['success_rate']:.3f} | {row['median_queries']:g} | "
                     f"{row['median_queries_successes']} | {row['mean_l0_patches']} | {row['mean_l2']} | {row['mean_linf']} | "
                     f"{row[quality]} | {row['remove_rate']:.3f} | {row['seconds_per_attack']:.3f} |")
    return "\n".join(lines) + "\n"


_JOB: dict = {}  # what the worker processes share (inherited through fork)


def run_one(task: tuple[str, str, int]) -> dict:
    """Attack input number ``task[2]`` with attacker ``task[1]`` and filter setting ``task[0]``."""
    setting, name, index = task
    i, x, y = _JOB["inputs"][index]
    attack = RLAttack(_JOB["agent"], setting) if name == "rl" else RandomOrderAttack(setting)
    result = attack.run(Victim.builtin(_JOB["victim"]), x, y, budget=_JOB["budget"], seed=i)
    return {"setting": setting, "attacker": name, "input": i, **result.summary()}


def finished(log: Path, budget: int) -> dict[tuple[str, str, int], dict]:
    """The attacks already in ``log`` at this budget, by (setting, attacker, input)."""
    if not log.exists():
        return {}
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {(r["setting"], r["attacker"], r["input"]): r for r in records if r["budget"] == budget}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--workers", type=int, default=1, help="processes (results do not depend on it)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="skip the attacks already in <out>.jsonl")
    args = parser.parse_args()
    out = args.out or OUT / f"attack-{args.victim}.json"
    log = out.with_suffix(".jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    _JOB.update(victim=args.victim, budget=args.budget, agent=load_agent(args.victim, [Log(print)]),
                inputs=clean_inputs(args.victim, args.n))
    settings = args.settings.split(",")
    done = finished(log, args.budget) if args.resume else {}
    if not args.resume:
        log.write_text("")
    tasks = [(setting, name, k) for setting in settings for name in ATTACKERS for k in range(len(_JOB["inputs"]))
             if (setting, name, _JOB["inputs"][k][0]) not in done]
    started = time.time()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool, log.open("a") as sink:
        for record in pool.imap_unordered(run_one, tasks, chunksize=2):
            sink.write(json.dumps({"budget": args.budget, **record}) + "\n")
            sink.flush()
            done[(record["setting"], record["attacker"], record["input"])] = record
    rows = []
    for setting in settings:
        for name in ATTACKERS:
            results = [done[(setting, name, i)] for i, _, _ in _JOB["inputs"]]
            rows.append({"attack": name, "filter": setting, **summarise(results, args.budget)})
            print(rows[-1], flush=True)
    report = {"run": run_record(seed=0, victim=args.victim), "victim": args.victim, "inputs": len(_JOB["inputs"]),
              "budget": args.budget, "machine": f"{platform.machine()}, {args.workers} worker(s), 1 torch thread each",
              "command": f"python -m benchmarks.attack --victim {args.victim} --n {args.n} --budget {args.budget}"
                         + ("" if args.settings == ",".join(SETTINGS) else f" --settings {args.settings}"),
              "seconds": round(time.time() - started, 1), "rows": rows}
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))


if __name__ == "__main__":
    main()
