"""RL maps against Captum's on a localisation set: Dice, IoU, Dice at the RL area, pointing, queries.

For each of the first ``--n`` test items of the victim's localisation set that have a ground-truth
mask and that the victim classifies correctly (in the split's seeded order; item ``i`` explained
with seed ``i``), every method of :data:`rlab_core.explanations.METHODS` maps the input and is scored
by the fixed protocol (``docs/ARCHITECTURE.md``, "Explanations"). Writes
``benchmarks/explain-<victim>.json`` (rows and per-sample records), ``.md`` and ``.png``.

Usage: python -m benchmarks.explain --victim image-loc-cnn [--n 200] [--budget 1000] [--workers 2]
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
from rlab_core.callbacks import Log
from rlab_core.explanations import METHODS, WHITE_BOX, explain
from rlab_core.explanations.rl import RL_FILTERS, RL_SEEDS
from rlab_core.run_record import run_record
from rlab_core.victims import Victim

OUT = Path(__file__).resolve().parent
METRICS = ("dice", "iou", "dice_at_rl_area", "pointing")
_JOB: dict = {}  # what the worker processes share (inherited through fork)


def scored_inputs(victim: str, n: int) -> list[int]:
    """Indices of the first ``n`` test items with ground truth that the victim gets right."""
    network = Victim.builtin(victim)
    data = network.dataset("test")
    chosen = []
    for i in range(len(data)):
        sample = data[i]
        if sample.mask is not None and sample.mask.any() and network.predict(sample.x) == sample.y:
            chosen.append(i)
        if len(chosen) == n:
            break
    return chosen


def explain_one(index: int) -> dict:
    victim = Victim.builtin(_JOB["victim"])
    sample = victim.dataset("test")[index]
    explanation = explain(victim, sample.x, sample.y, METHODS, _JOB["budget"], seed=index, truth=sample.mask,
                          agent=_JOB["agent"])
    return {"index": index, "truth_area": int(sample.mask.sum()), **explanation.summary()}


def aggregate(samples: list[dict]) -> list[dict]:
    rows = []
    for method in METHODS:
        entries = [s["methods"][method] for s in samples]
        row: dict = {"method": method, "white_box": method in WHITE_BOX, "samples": len(entries)}
        for metric in METRICS:
            values = [float(e[metric]) for e in entries if e[metric] is not None]
            row[f"{metric}_mean"] = round(float(np.mean(values)), 4) if values else None
            row[f"{metric}_std"] = round(float(np.std(values)), 4) if values else None
            row[f"{metric}_scored"] = len(values)
        queries = [e["queries"] for e in entries if e["queries"] is not None]
        row["mean_queries"] = round(float(np.mean(queries)), 1) if queries else None
        row["median_queries"] = float(np.median(queries)) if queries else None
        row["mean_seconds"] = round(float(np.mean([e["seconds"] for e in entries])), 3)
        rows.append(row)
    return rows


def markdown(report: dict) -> str:
    def cell(row: dict, metric: str) -> str:
        mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
        return "n/a" if mean is None else f"{mean:.3f} ± {std:.3f}"

    lines = [f"# `{report['victim']}`: RL maps vs Captum's, against ground truth", "",
             (f"{report['inputs']} correctly classified test items with ground truth; RL attacks: filters "
              f"{', '.join(report['rl_filters'])} x {report['rl_seeds']} seeds, budget {report['budget']} queries each, "
              f"20% patch cap; seed = item index. RL fooled the victim on {report['rl_success_rate']:.1%} of them. "
              f"Made by `{report['command']}` on {report['machine']} in {report['seconds'] / 60:.0f} min."), "",
             ("Saliency, IG and Grad-CAM are **white-box** (they read the network's gradients); RL and Occlusion only "
              "query the black box. `dice_at_rl_area` is averaged over the items where `rl_hard` is not empty."), "",
             "| method | access | dice | iou | dice at RL area | pointing | mean queries | median queries | s / item |",
             "|---" * 9 + "|"]
    for row in report["rows"]:
        access = "white-box" if row["white_box"] else "black-box"
        queries = ("-", "-") if row["mean_queries"] is None else (f"{row['mean_queries']:g}", f"{row['median_queries']:g}")
        lines.append(f"| {row['method']} | {access} | {cell(row, 'dice')} | {cell(row, 'iou')} | "
                     f"{cell(row, 'dice_at_rl_area')} | {row['pointing_mean']:.3f} | {queries[0]} | {queries[1]} | "
                     f"{row['mean_seconds']:.2f} |")
    return "\n".join(lines) + f"\n\n![Dice and queries per method](explain-{report['victim']}.png)\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    names = [r["method"] for r in rows]
    colours = ["tab:gray" if r["white_box"] else "tab:red" for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), dpi=100)
    left.bar(names, [r["dice_mean"] for r in rows], yerr=[r["dice_std"] for r in rows], color=colours, capsize=3)
    left.set_ylabel("Dice at ground-truth area")
    left.set_ylim(0, 1)
    left.set_title(f"{report['victim']}: red black-box, gray white-box")
    black_box = [r for r in rows if r["mean_queries"] is not None]
    right.bar([r["method"] for r in black_box], [r["mean_queries"] for r in black_box], color="tab:red")
    right.set_ylabel("mean queries per item")
    right.set_title("queries spent (black-box methods)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="processes (results do not depend on it)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _JOB.update(victim=args.victim, budget=args.budget, agent=load_agent(args.victim, [Log(print)]))
    indices = scored_inputs(args.victim, args.n)
    started = time.time()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        samples = []
        for done, record in enumerate(pool.imap(explain_one, indices, chunksize=2), 1):
            samples.append(record)
            if done % 10 == 0:
                print(f"{done}/{len(indices)} items ({time.time() - started:.0f}s)", flush=True)
    report = {"run": run_record(seed=0, victim=args.victim), "victim": args.victim, "inputs": len(samples),
              "budget": args.budget, "rl_filters": list(RL_FILTERS), "rl_seeds": RL_SEEDS,
              "rl_success_rate": round(float(np.mean([bool(s["rl_success"]) for s in samples])), 4),
              "machine": f"{platform.machine()}, {args.workers} worker(s), 1 torch thread each",
              "command": f"python -m benchmarks.explain --victim {args.victim} --n {args.n} --budget {args.budget}",
              "seconds": round(time.time() - started, 1), "rows": aggregate(samples), "samples": samples}
    out = OUT / f"explain-{args.victim}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    plot(report, out.with_suffix(".png"))
    for row in report["rows"]:
        print(row, flush=True)


if __name__ == "__main__":
    main()
