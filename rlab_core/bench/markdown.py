"""A report drawn: its table as Markdown (:func:`rows_table`, :func:`markdown`) and its curves as a PNG (:func:`plot`).

Drawing only: every figure shown here is computed in :mod:`rlab_core.bench.report`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rlab_core.bench.report import BenchReport
from rlab_core.files import atomic_path


def _cell(value) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def rows_table(report: BenchReport) -> str:
    """The rows as a Markdown table (also what the CLI prints); the quality column is the
    modality's (SNR for ECG, SSIM otherwise)."""
    quality = "mean_snr_db" if any("mean_snr_db" in r for r in report.rows) else "mean_ssim"
    keys = ("attack", "success_rate", "mean_queries", "median_queries", "median_queries_successes", "mean_l0_patches",
            "mean_l2", "mean_linf", quality, "seconds_per_sample")
    heads = ("attack", "success", "mean queries", "median queries", "median (successes)", "mean L0 patches", "mean L2",
             "mean Linf", quality.removeprefix("mean_"), "s / sample")
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(_cell(row.get(k)) for k in keys) + " |" for row in report.rows]
    return "\n".join(lines)


def markdown(report: BenchReport, figure: str | None = None) -> str:
    """The report's ``.md``: the protocol in a paragraph, the command that made it, the table and the ``figure``."""
    config = report.config
    matched = sum(1 for r in report.samples if r.get("matched_to") == "rl_median")
    lines = [
        f"# Benchmark: `{config.victim}`", "",
        (f"{report.inputs} correctly classified test inputs, untargeted, budget {config.budget} queries (the clean "
         f"prediction included; a failure counts as the whole budget in every query figure), seed {config.seed} "
         f"(each input its own seed from it). Patch attacks: filter `{config.filter}`, patch cap 20% of the grid. "
         f"`square`: ART's Square Attack in an L2 ball of the L2 `rl` reached on the same input; `square_linf`: Linf "
         f"0.05; `simba`: ART's SimBA (pixels, epsilon 0.2) stopped past that L2. Where `rl` failed, they use its "
         f"median L2 over the run ({report.rl_median_l2}; {matched} records). Distortions in `[0, 1]` input scale, "
         f"means over successes."), "",
        f"Made by `{report.command}` on {report.machine} in {report.seconds} s.", "",
        rows_table(report), "",
    ]
    if figure:
        lines += [f"![success rate against queries]({figure})", ""]
    return "\n".join(lines)


def plot(report: BenchReport, path: Path) -> None:
    """Success rate against queries, one line per attack (matplotlib, Agg), written whole to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    budget = report.config.budget
    for name in report.config.attacks:  # exact steps from the samples (the JSON's curves are on a grid)
        rows = [r for r in report.samples if r["attack"] == name]
        if not rows:
            continue
        fooled = sorted(r["queries"] for r in rows if r["success"])
        ax.step([1, *fooled, budget], [0, *(np.arange(1, len(fooled) + 1) / len(rows)), len(fooled) / len(rows)],
                where="post", label=name)
    ax.set_xscale("log")
    ax.set_xlim(1, budget)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("queries (the clean prediction included)")
    ax.set_ylabel("success rate")
    ax.set_title(f"{report.config.victim}: {report.inputs} inputs, budget {budget}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, dpi=120)
    plt.close(fig)
