"""Benchmark: the published tables and curves, and a small live run in a background process."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import streamlit as st

from rlab_app import jobs
from rlab_app.figures.benchmark import bench_curves_figure, bench_queries_figure
from rlab_app.state.reports import bench_report
from rlab_app.widgets import follow_run, run_buttons, show_run_status, upload_onnx
from rlab_core import bench, relative_to_root
from rlab_core.victims import get_profile

POLL_SECONDS = 2
DEFAULT_ATTACKS = ["rl", "random", "square"]
QUALITY = {"mean_snr_db": "SNR dB", "mean_ssim": "SSIM"}
COLUMNS = {  # the table's columns and their headings, in this order (the quality column is the modality's)
    "attack": "attack", "success_rate": "success", "mean_queries": "mean queries", "median_queries": "median queries",
    "median_queries_successes": "median (successes)", "mean_l0_patches": "mean L0 patches", "mean_l2": "mean L2",
    "mean_linf": "mean Linf", **QUALITY, "seconds_per_sample": "s / sample", "samples": "inputs",
}
ATTACK_NAMES = {"rl": "rl (the victim's RL agent)", "greedy": "greedy (probe every patch)",
                "random": "random (patches in random order)", "square": "square (ART, L2 matched to rl)",
                "square_linf": "square_linf (ART, Linf 0.05)", "simba": "simba (ART, L2 matched to rl)"}


def show_report(report: bench.BenchReport, key: str) -> None:
    """A benchmark report: where it comes from, its table, its curves and median queries."""
    config = report.config
    asked = "" if report.inputs == config.n else f" of {config.n} asked"
    st.caption(f"Made by `{report.command}`: {report.inputs} correctly classified test inputs{asked}, "
               f"untargeted, budget {config.budget} queries per attack (the clean prediction included), seed "
               f"{config.seed}, patch filter `{config.filter}`; {report.machine}, {report.seconds} s. "
               "A failure counts as the whole budget in every query figure; distortions (`[0, 1]` input scale) are "
               "means over successes.")
    rows = [{heading: row.get(column) for column, heading in COLUMNS.items() if column in row} for row in report.rows]
    st.dataframe(rows, hide_index=True, key=f"bench_table_{key}",
                 column_config={"success": st.column_config.NumberColumn(format="percent")})
    curves, queries = st.columns([3, 2])
    curves.plotly_chart(bench_curves_figure(report), key=f"bench_curves_{key}")
    queries.plotly_chart(bench_queries_figure(report), key=f"bench_queries_{key}")


def published_section() -> None:
    st.subheader("Published results")
    reports = bench.published_reports()
    if not reports:
        st.info("No published benchmark yet: make one with `python -m rlab_core bench --modality M --attacks "
                "rl,greedy,random,square,square_linf,simba --out benchmarks/bench-<victim>.json`.")
        return
    names = list(reports)
    victim = st.session_state.get("victim")
    chosen = st.selectbox("Published run", names, index=names.index(victim) if victim in names else 0,
                          key="bench_published")
    report = bench_report(reports[chosen])
    if report is None:
        st.error(f"{relative_to_root(reports[chosen])} cannot be read as a benchmark report.")
        return
    show_report(report, "published")


def run_controls(victim: str, folder: Path, status: str) -> None:
    """The live run's settings, Start and Stop; the run writes to ``folder`` and survives reloads."""
    running = status == "running"
    attacks = st.multiselect("Attacks", bench.ATTACKS, default=DEFAULT_ATTACKS,
                             format_func=cast(Callable[[Any], str], ATTACK_NAMES.get), key="bench_attacks", disabled=running,
                             help="square and simba are held to the L2 that rl reached, so they need rl.")
    n, budget, seed, start, stop = st.columns([2, 2, 2, 1, 1], vertical_alignment="bottom")
    inputs = n.number_input("Inputs", 1, 50, 5, key="bench_n", disabled=running,
                            help="the first N test inputs the victim classifies correctly")
    queries = budget.number_input("Budget (queries)", 2, 5000, 300, step=50, key="bench_budget", disabled=running)
    seed_value = seed.number_input("Seed", 0, 2**31 - 1, 0, key="bench_seed", disabled=running)
    own, model = own_model(victim, running)
    chosen = tuple(a for a in bench.ATTACKS if a in attacks)  # rl first, as the table lists them
    config = bench.BenchConfig(victim, chosen, int(inputs), int(queries), int(seed_value))

    def launch() -> None:
        if own and model is None:
            raise bench.BenchError("upload your ONNX model first, or switch it off to benchmark the victim's network")
        jobs.start_bench(config, folder, model)

    run_buttons(start, stop, folder, running, label="Start", key="bench", errors=bench.BenchError, launch=launch,
                where=f"The run is a separate process (one torch thread) writing to `{relative_to_root(folder)}`: leave or "
                      "reload the page, it goes on.")


def own_model(victim: str, running: bool) -> tuple[bool, bytes | None]:
    """Whether the user asked to benchmark an ONNX model of their own instead of the victim's
    network, and its bytes once uploaded and usable."""
    if not st.toggle("Benchmark your own ONNX model instead of the victim's network", key="bench_own_model",
                     disabled=running):
        return False, None
    uploaded = upload_onnx(get_profile(victim), key=f"bench_onnx_{victim}", disabled=running)
    return True, None if uploaded is None else uploaded[0]


def show_progress(folder: Path) -> None:
    """The live run's progress bar, from its progress file; a run that ends redraws the page."""
    state = follow_run(folder, "bench", "No benchmark started from this app for this victim yet.")
    if state is None:
        return
    status, progress = state
    settings = progress.get("settings") or {}
    if settings:
        st.caption(f"{', '.join(settings['attacks'])} on {settings['n']} inputs, budget {settings['budget']}, "
                   f"seed {settings['seed']}.")
    entry = progress.get("phases", {}).get("attacks")
    if entry is None:
        st.progress(0.0, text="Loading the victim and choosing the inputs…" if status == "running" else "Not started")
    else:
        done, total = entry["done"], entry["total"]
        st.progress(min(done / max(total, 1), 1.0),
                    text=f"{done} of {total} attacks done (inputs × attacks), {entry.get('seconds', 0):.0f} s")
    since = time.time() - progress.get("started", time.time())
    show_run_status(folder, status, running=f"Running for {since:.0f} s: {progress.get('message', '')}",
                    done="The run finished: its table and curves are below.",
                    failed=f"The benchmark failed: {progress.get('error')}")


def live_section(victim: str) -> None:
    st.subheader("Run a small benchmark")
    st.caption(f"The same protocol on {victim} (the sidebar's victim), in-process: a few inputs take seconds "
               "for ECG and images; ART's attacks and videos take longer.")
    folder = bench.run_folder(victim)
    status, _ = jobs.worker_state(folder)
    run_controls(victim, folder, status)
    st.fragment(show_progress, run_every=POLL_SECONDS if status == "running" else None)(folder)
    if status != "running":
        report = bench_report(folder / bench.LIVE)
        if report is not None:
            show_report(report, "live")


spec = get_profile(st.session_state["victim"])
st.title("Benchmark")
st.caption("Every attack on the same correctly classified test inputs at the same query budget, each query counted "
           "by the attack's own black box: the share of inputs fooled, the queries it took and the distortion. "
           "`square` and `simba` are held to the L2 distortion `rl` reached on the same input.")
published_section()
live_section(spec.name)
