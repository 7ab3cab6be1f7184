"""Explanations against ground truth, beside the controls: Dice, IoU, Dice at the RL area, pointing, queries.

For each of the first ``--n`` test items of the victim's localisation set that have a ground-truth
mask and that the victim classifies correctly (in the split's seeded order; item ``i`` explained
with seed ``i``), every method of ``--methods`` maps the input and is scored by the fixed protocol
(``docs/ARCHITECTURE.md``, "Explanations"). The default is every method and every control
(:mod:`rlab_core.explanations.controls`): a method is only as good as its margin over the maps
that ask nothing of the model, and the set itself is **valid** only while every model-free
control stays at or under :data:`~rlab_core.explanations.metrics.VALIDITY_BOUND` (Dice, and
GridPG where scored). On the first ``--randomisation`` of the items, the model-parameter
randomisation test (Adebayo et al., 2018): each method's rank correlation between its map on the
trained victim and on the same network re-initialised (seed = item index). On the first
``--curves`` items, each black-box method's map read at 50, 100, 200, 500 and 1,000 queries (RISE: one
run, cut; Captum's sampling methods: one seeded run per budget, each a prefix of the next; Feature
Ablation at its fixed 1 + P; ``rl``: its six attacks share each budget, a run per budget), every
query counted by the victim wrapper.

Writes ``benchmarks/explain-<victim>.json`` (rows, validity, randomisation and per-sample records),
``.md`` and ``.png`` (or ``--out FILE.json`` and its companions).

Usage: python -m benchmarks.explain --victim image-loc-cnn [--n 200] [--budget 1000] [--workers 2]
                                    [--methods a,b] [--randomisation 20] [--curves 100] [--without-rl]
                                    [--out FILE.json]
       python -m benchmarks.explain --victim image-grid-cnn --randomisation 12 --randomisation-only
           (recomputes only the randomisation test of an existing report, on its methods and budget)
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

from rlab_core.agents.agent import AgentError, load_agent
from rlab_core.callbacks import Log
from rlab_core.explanations import (
    KNOWN,
    MODEL_FREE,
    PEERS,
    WHITE_BOX,
    Target,
    at_budgets,
    dice,
    explain,
    gridpg,
    parse_methods,
    pointing,
    randomisation_test,
    rise_at_budgets,
    rl_at_budgets,
    target_of,
)
from rlab_core.explanations.base import access
from rlab_core.explanations.metrics import validity
from rlab_core.explanations.rl import RL_FILTERS, RL_SEEDS
from rlab_core.run_record import run_record
from rlab_core.sample import Sample
from rlab_core.victims import BlackBox, Victim

OUT = Path(__file__).resolve().parent
METRICS = ("dice", "iou", "dice_at_rl_area", "pointing", "gridpg")
CURVE_BUDGETS = (50, 100, 200, 500, 1000)
CURVED = ("rl", *PEERS)  # the methods read at each budget
_JOB: dict = {}  # what the worker processes share (inherited through fork)


def scored_inputs(victim: str, n: int) -> list[tuple[int, int]]:
    """The first ``n`` explanations to score, as ``(test index, class)``: items with ground truth
    that the victim gets right; on a mosaic, each of the four classes of a mosaic whose top four
    are exactly its classes present."""
    network = Victim.builtin(victim)
    data = network.dataset("test")
    chosen: list[tuple[int, int]] = []
    for i in range(len(data)):
        sample = data[i]
        if sample.parts:
            present = sorted(part.label for part in sample.parts)
            if sorted(np.argsort(-network.probabilities(sample.x))[:len(present)].tolist()) == present:
                chosen += [(i, part.label) for part in sample.parts]
        elif sample.mask is not None and sample.mask.any() and network.predict(sample.x) == sample.y:
            chosen.append((i, int(sample.y)))
        if len(chosen) >= n:
            return chosen[:n]
    return chosen


def _job(item: tuple[int, int]) -> tuple[Victim, Sample, Target]:
    victim = Victim.builtin(_JOB["victim"])
    sample = victim.dataset("test")[item[0]]
    return victim, sample, target_of(victim, sample, item[1])


def explain_one(item: tuple[int, int]) -> dict:
    victim, sample, target = _job(item)
    explanation = explain(victim, sample.x, target.label, _JOB["methods"], _JOB["budget"], seed=item[0],
                          truth=target.truth, cell=target.cell, agent=_JOB["agent"], rl_area=_JOB["agent"] is not None)
    assert target.truth is not None  # scored_inputs keeps only items with ground truth
    return {"index": item[0], "truth_area": int(target.truth.sum()), **explanation.summary()}


def randomised_methods(methods: tuple[str, ...]) -> list[str]:
    return [m for m in methods if m != "model_free_in_cell"]  # it reads the ground truth, not the model


def randomise_one(item: tuple[int, int]) -> dict:
    victim, sample, target = _job(item)
    correlations = randomisation_test(victim, sample.x, target.label, randomised_methods(_JOB["methods"]),
                                      budget=_JOB["budget"], seed=item[0],
                                      agent=_JOB["agent"])
    return {"index": item[0], "label": target.label, "correlations": correlations}


def curve_one(item: tuple[int, int]) -> dict:
    """Each black-box method's map of one item at :data:`CURVE_BUDGETS`, scored: budget -> {queries,
    dice, pointing, gridpg}."""
    victim, sample, target = _job(item)
    assert target.truth is not None
    curves: dict[str, dict[str, dict | None]] = {}
    for method in (m for m in _JOB["methods"] if m in CURVED):
        if method == "rl":
            maps: dict = rl_at_budgets(victim, sample.x, target.label, _JOB["agent"], CURVE_BUDGETS, item[0])
        elif method == "rise":
            maps = rise_at_budgets(BlackBox(victim), sample.x, target.label, victim.grid, CURVE_BUDGETS, item[0])
        else:
            maps = at_budgets(method, lambda: BlackBox(victim), sample.x, target.label, victim.grid, CURVE_BUDGETS,
                              item[0])
        curves[method] = {str(budget): None if m is None else
                          {"queries": m.queries, "dice": dice(m.values, target.truth),
                           "pointing": pointing(m.values, target.truth, victim.grid.patch_size),
                           **({} if target.cell is None else {"gridpg": gridpg(m.values, target.cell)})}
                          for budget, m in maps.items()}
    return {"index": item[0], "label": target.label, "curves": curves}


def curve_rows(records: list[dict]) -> list[dict]:
    """Per method and budget, the mean Dice, GridPG and pointing over the items the budget bought a map for."""
    rows = []
    for method in records[0]["curves"] if records else ():
        for budget in records[0]["curves"][method]:
            points = [r["curves"][method][budget] for r in records if r["curves"][method][budget] is not None]
            if points:
                rows.append({"method": method, "budget": int(budget), "items": len(points),
                             "max_queries": max(p["queries"] for p in points),
                             "dice_mean": round(float(np.mean([p["dice"] for p in points])), 4),
                             "gridpg_mean": (round(float(np.mean([p["gridpg"] for p in points])), 4)
                                             if "gridpg" in points[0] else None),
                             "pointing_mean": round(float(np.mean([p["pointing"] for p in points])), 4)})
    return rows


def mean_and_std(values: list[float]) -> dict:
    return ({"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4), "scored": len(values)}
            if values else {"mean": None, "std": None, "scored": 0})


def aggregate(samples: list[dict], methods: tuple[str, ...]) -> list[dict]:
    rows = []
    for method in methods:
        entries = [s["methods"][method] for s in samples]
        first = entries[0]
        row: dict = {"method": method, "access": access(first["white_box"], first["queries"], first["uses_ground_truth"]),
                     "white_box": method in WHITE_BOX, "samples": len(entries)}
        for metric in METRICS:
            figures = mean_and_std([float(e[metric]) for e in entries if e.get(metric) is not None])
            row.update({f"{metric}_{k}": v for k, v in figures.items()})
        queries = [e["queries"] for e in entries if e["queries"] is not None]
        row["mean_queries"] = round(float(np.mean(queries)), 1) if queries else None
        row["median_queries"] = float(np.median(queries)) if queries else None
        row["mean_seconds"] = round(float(np.mean([e["seconds"] for e in entries])), 3)
        rows.append(row)
    return rows


def set_validity(rows: list[dict]) -> dict:
    means = {r["method"]: {"dice": r["dice_mean"], "gridpg": r["gridpg_mean"]} for r in rows if r["method"] in MODEL_FREE}
    missing = [c for c in MODEL_FREE if c not in means]
    check = validity(means)
    return {**check, "valid": check["valid"] and not missing, "missing_controls": missing}


def randomisation_rows(records: list[dict], methods: list[str]) -> list[dict]:
    return [{"method": m, **mean_and_std([r["correlations"][m] for r in records if r["correlations"][m] is not None])}
            for m in methods]


def _cell(row: dict, metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    return "n/a" if mean is None else f"{mean:.3f} ± {std:.3f}"


def _correlation(row: dict) -> str:
    return "n/a" if row["mean"] is None else f"{row['mean']:.3f} ± {row['std']:.3f}"


def markdown(report: dict) -> str:
    check = report["validity"]
    if check["missing_controls"]:
        verdict = (f"**Validity not checked by this run**: it leaves out the controls "
                   f"{', '.join(check['missing_controls'])}; the set's full run says whether it is valid.")
    elif check["valid"]:
        verdict = f"**Valid set**: every model-free control scores at most {check['bound']} Dice (and GridPG)."
    else:
        verdict = (f"**Invalid set**: a map that asks nothing of the model scores too well here "
                   f"({'; '.join(check['failures'])}), so a high score on it says nothing about the model.")
    rl = (f"RL attacks: filters {', '.join(report['rl_filters'])} x {report['rl_seeds']} seeds, budget "
          f"{report['budget']} queries each, 20% patch cap" if any(r["method"] in ("rl", "rl_hard") for r in report["rows"])
          else f"no RL attacks; each peer at most {report['budget']} queries")
    lines = [f"# `{report['victim']}`: explanations against ground truth, beside the controls", "", verdict, "",
             (f"{report['inputs']} explanations of correctly classified test items with ground truth (on a mosaic, "
              f"each of its four classes in turn, GridPG the share of positive attribution in that class's cell); {rl}; "
              f"seed = item index. Made by `{report['command']}` on {report['machine']} in "
              f"{report['seconds'] / 60:.0f} min."), "",
             ("Access: white-box methods read the network's gradients; black-box ones only query it (queries "
              "counted by the victim wrapper); controls ask nothing; `model_free_in_cell` reads the ground truth (a "
              "ceiling, not a competitor). `dice_at_rl_area` is averaged over the items where `rl_hard` is not empty."),
             "", "| method | access | dice | iou | GridPG | dice at RL area | pointing | mean queries | median queries "
             "| s / item |", "|---" * 10 + "|"]
    for row in report["rows"]:
        queries = ("-", "-") if row["mean_queries"] is None else (f"{row['mean_queries']:g}", f"{row['median_queries']:g}")
        lines.append(f"| {row['method']} | {row['access']} | {_cell(row, 'dice')} | {_cell(row, 'iou')} | "
                     f"{_cell(row, 'gridpg')} | {_cell(row, 'dice_at_rl_area')} | {row['pointing_mean']:.3f} | "
                     f"{queries[0]} | {queries[1]} | {row['mean_seconds']:.2f} |")
    randomised = report["randomisation"]
    if randomised["rows"]:
        lines += ["", (f"**Randomisation test** on the first {randomised['inputs']} items: Spearman correlation between "
                       "each method's map on the trained victim and on the same network with every weight "
                       "re-initialised (near 0: the map depends on the weights; the controls are 1 by construction; "
                       "a constant map has no ranking and is not counted)."
                       + (f" Rerun apart by `{randomised['command']}` in {randomised['seconds'] / 60:.0f} min."
                          if "command" in randomised else "")), "",
                  "| method | correlation | items counted |", "|---|---|---|"]
        lines += [f"| {r['method']} | {_correlation(r)} | {r['scored']} |" for r in randomised["rows"]]
    curves = report["curves"]
    if curves["rows"]:
        lines += ["", (f"**Black-box methods against their query budget** on the first {curves['inputs']} items: mean "
                       "Dice of each map when it may spend at most that many queries (Feature Ablation costs "
                       "its fixed 1 + P; `rl`'s six attacks share the budget; `max queries` is the most any item "
                       "spent)."), "",
                  "| method | budget | max queries | dice | GridPG | pointing | items |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['budget']} | {r['max_queries']} | {r['dice_mean']:.3f} | "
                  f"{'-' if r['gridpg_mean'] is None else format(r['gridpg_mean'], '.3f')} | "
                  f"{r['pointing_mean']:.3f} | {r['items']} |" for r in curves["rows"]]
    return "\n".join(lines) + f"\n\n![Dice and queries per method]({report['figure']})\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    colour = {"white-box": "tab:gray", "black-box": "tab:red", "control": "tab:olive",
              "control, reads the ground truth": "tab:green"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), dpi=100)
    left.bar([r["method"] for r in rows], [r["dice_mean"] for r in rows], yerr=[r["dice_std"] for r in rows],
             color=[colour[r["access"]] for r in rows], capsize=3)
    left.axhline(report["validity"]["bound"], color="k", lw=0.8, ls="--")
    left.set_ylabel("Dice at ground-truth area")
    left.set_ylim(0, 1)
    left.tick_params(axis="x", rotation=45)
    left.set_title(f"{report['victim']}: red black-box, gray white-box, olive control")
    black_box = [r for r in rows if r["access"] == "black-box"]
    right.bar([r["method"] for r in black_box], [r["mean_queries"] for r in black_box], color="tab:red")
    right.set_ylabel("mean queries per item")
    right.set_title("queries spent (black-box methods)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_all(function, indices: list[tuple[int, int]], workers: int, what: str) -> list[dict]:
    started, records = time.time(), []
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for done, record in enumerate(pool.imap(function, indices, chunksize=2), 1):
            records.append(record)
            if done % 10 == 0 or done == len(indices):
                print(f"{what}: {done}/{len(indices)} items ({time.time() - started:.0f}s)", flush=True)
    return records


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--methods", help="comma list (default: every method and control)")
    parser.add_argument("--randomisation", type=int, default=20, help="items of the randomisation test (0: none)")
    parser.add_argument("--curves", type=int, default=100, help="items of the peers' budget curves (0: none)")
    parser.add_argument("--without-rl", action="store_true",
                        help="no RL attacks: no rl rows and no dice_at_rl_area (where they cost too much to rerun)")
    parser.add_argument("--workers", type=int, default=1, help="processes (results do not depend on it)")
    parser.add_argument("--randomisation-only", action="store_true",
                        help="recompute only the randomisation test of the existing report at --out, keep the rest")
    parser.add_argument("--out", type=Path, help="default: benchmarks/explain-<victim>.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = args.out or OUT / f"explain-{args.victim}.json"
    if args.randomisation_only:
        return rerun_randomisation(args, out)
    methods = parse_methods(args.methods) if args.methods else KNOWN
    # The agent serves every item (scoring reads rl_hard's area even when no RL map is asked for).
    try:
        if args.without_rl:
            raise AgentError("--without-rl")
        agent = load_agent(args.victim, [Log(print)])
    except AgentError as err:  # a victim without an agent yet: its RL maps cannot be made
        print(f"{err}: the RL methods are left out", flush=True)
        agent, methods = None, tuple(m for m in methods if m not in ("rl", "rl_hard"))
    _JOB.update(victim=args.victim, budget=args.budget, methods=methods, agent=agent)
    indices = scored_inputs(args.victim, args.n)
    started = time.time()
    samples = run_all(explain_one, indices, args.workers, "explanations")
    randomised = run_all(randomise_one, indices[:args.randomisation], args.workers, "randomisation")
    curved = run_all(curve_one, indices[:args.curves], args.workers, "curves") if set(CURVED) & set(methods) else []
    flags = "".join(f" --{k} {v}" for k, v in (("methods", args.methods), ("randomisation", args.randomisation),
                                                 ("curves", args.curves))
                    if v is not None and v != parser.get_default(k)) + (" --without-rl" if args.without_rl else "")
    rows = aggregate(samples, methods)
    report = {"run": run_record(seed=0, victim=args.victim), "victim": args.victim, "inputs": len(samples),
              "budget": args.budget, "rl_filters": list(RL_FILTERS), "rl_seeds": RL_SEEDS,
              "rl_success_rate": round(float(np.mean([bool(s["rl_success"]) for s in samples])), 4),
              "machine": f"{platform.machine()}, {args.workers} worker(s), 1 torch thread each",
              "command": f"python -m benchmarks.explain --victim {args.victim} --n {args.n} --budget {args.budget}{flags}",
              "seconds": round(time.time() - started, 1), "figure": out.with_suffix(".png").name, "rows": rows,
              "validity": set_validity(rows),
              "randomisation": randomisation_block(randomised, methods),
              "curves": {"inputs": len(curved), "budgets": list(CURVE_BUDGETS), "rows": curve_rows(curved),
                         "samples": curved},
              "samples": samples}
    return write(report, out)


def rerun_randomisation(args: argparse.Namespace, out: Path) -> Path:
    """Replace the randomisation test of the report at ``out`` by a fresh one on its first
    ``--randomisation`` items, with the report's own methods, budget and agent (for a fix that
    touches only this test; the items and seeds are those a full run would use)."""
    report = json.loads(out.read_text())
    methods = tuple(row["method"] for row in report["rows"])
    agent = load_agent(args.victim, [Log(print)]) if {"rl", "rl_hard"} & set(methods) else None
    _JOB.update(victim=args.victim, budget=report["budget"], methods=methods, agent=agent)
    indices = scored_inputs(args.victim, args.randomisation)
    started = time.time()
    randomised = run_all(randomise_one, indices, args.workers, "randomisation")
    report["randomisation"] = {**randomisation_block(randomised, methods),
                               "command": (f"python -m benchmarks.explain --victim {args.victim} --randomisation "
                                           f"{args.randomisation} --randomisation-only"
                                           + (f" --out {args.out}" if args.out else "")),
                               "seconds": round(time.time() - started, 1), "run": run_record(seed=0, victim=args.victim)}
    return write(report, out)


def randomisation_block(records: list[dict], methods: tuple[str, ...]) -> dict:
    rows = randomisation_rows(records, randomised_methods(methods)) if records else []
    return {"inputs": len(records), "rows": rows, "samples": records}


def write(report: dict, out: Path) -> Path:
    out.write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    plot(report, out.with_suffix(".png"))
    print(markdown(report), flush=True)
    return out


if __name__ == "__main__":
    main()
