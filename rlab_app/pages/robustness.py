"""Robustness: fine-tune the victim on its own agent's adversarial samples in a background run, then compare before and after."""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from rlab_app import jobs
from rlab_app.figures.attack import comparison_figure
from rlab_app.figures.robustness import robustness_figure
from rlab_app.state.reports import robustness_report, robustness_sample
from rlab_app.widgets import follow_run, run_buttons, show_run_status, true_label
from rlab_core import relative_to_root, robustness
from rlab_core.robustness import RobustnessReport
from rlab_core.victims import PROFILES, VictimProfile, get_profile

POLL_SECONDS = 2
PRESET_NAMES = {"quick": "Quick (a check, about a minute for ECG)",
                "default": "Default (on 2 cores: about 15 minutes for ECG, over an hour for images and video)",
                "full": "Full (the published figures' settings; an hour or more)"}
MIX_NAME = "the mixture"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def points(after: float | None, before: float | None) -> str | None:
    """The change from ``before`` to ``after`` in percentage points (none without both)."""
    return None if after is None or before is None else f"{(after - before) * 100:+.1f} pts"


def run_controls(spec: VictimProfile, folder: Path, status: str) -> None:
    """Start (or stop) the background run; it writes to ``folder`` and survives reloads."""
    running = status == "running"
    choice, start, stop = st.columns([3, 1, 1], vertical_alignment="bottom")
    preset = choice.radio("Setting", robustness.PRESETS, index=0, format_func=PRESET_NAMES.get, horizontal=True,
                          key="robustness_preset", disabled=running)
    run_buttons(start, stop, folder, running, label="Start fine-tuning", key="robustness",
                errors=robustness.RobustnessError, launch=lambda: jobs.start_robustness(spec.name, preset, folder),
                where=f"The run is a separate process writing to `{relative_to_root(folder)}`: leave or reload "
                      "the page, it goes on. Its hardened weights stay in that folder; the shipped weights are never "
                      "changed. A stopped run started again with the same setting goes on from its last finished step.")


def show_progress(folder: Path) -> None:
    """The run's phases as progress bars, from its progress file; a finished run reloads the page."""
    state = follow_run(folder, "robustness", "No run started from this app yet.")
    if state is None:
        return
    status, progress = state
    phases = progress.get("phases", {})
    for phase, label in robustness.PHASES.items():
        entry = phases.get(phase)
        if entry is None:
            st.progress(0.0, text=f"{label}: waiting")
            continue
        done, total = entry["done"], max(entry["total"], 1)
        st.progress(min(done / total, 1.0), text=f"{label}: {done}/{entry['total']} ({entry.get('seconds', 0):.0f} s)")
    since = time.time() - progress.get("started", time.time())
    show_run_status(folder, status,
                    running=f"Running for {since / 60:.1f} min ({progress.get('preset', '')}): "
                            f"{progress.get('message', '')}",
                    done="The run finished: its report is below.", failed=f"The run failed: {progress.get('error')}")


def choose_report(spec: VictimProfile, folder: Path) -> RobustnessReport | None:
    sources = {}
    if (folder / "report.json").exists():
        sources["This app's last run"] = folder / "report.json"
    shipped = robustness.shipped_report_path(spec.name)
    if shipped.exists():
        sources[f"Shipped ({relative_to_root(shipped)})"] = shipped
    if not sources:
        st.info(f"No report for {spec.name} yet: start a run above, or make the shipped one with "
                f"`python -m benchmarks.robustness --victim {spec.name}`.")
        return None
    # A key per victim: each has its own reports.
    source = st.radio("Report", list(sources), horizontal=True, key=f"robustness_source_{spec.name}")
    report = robustness_report(sources[source])
    if report is None:
        st.error(f"{relative_to_root(sources[source])} cannot be read.")
    return report


def show_report(spec: VictimProfile, report: RobustnessReport) -> None:
    ev, before, after, adaptive = report.evaluation, report.before, report.after, report.adaptive
    st.caption(f"{ev['inputs']} test inputs that both networks classify correctly; budget {ev['budget']} queries; "
               f"at most {ev['max_patches']} of {ev['n_patches']} patches; Square Attack (Linf "
               f"{ev['square']['eps']:g}) on the first {ev['square']['inputs']}. Made by `{report.command}` "
               f"({report.seconds['total'] / 60:.1f} min).")
    figures = st.columns(4)
    figures[0].metric("Clean accuracy", percent(after.clean_accuracy),
                      points(after.clean_accuracy, before.clean_accuracy), help="whole test split")
    figures[1].metric("RL success (mix)", percent(after.rl_success_rate),
                      points(after.rl_success_rate, before.rl_success_rate), delta_color="inverse",
                      help="the shipped agent, before → after")
    figures[2].metric("Adaptive agent", percent(adaptive.success_rate),
                      help="an agent trained again against the hardened victim, with the shipped recipe")
    figures[3].metric("Square success", percent(after.square_success_rate),
                      points(after.square_success_rate, before.square_success_rate),
                      delta_color="inverse", help="a different attack family: does robustness carry over?")
    st.plotly_chart(robustness_figure(report), key="robustness_chart")
    st.caption("Held-out adversarial: the adversarial test inputs (every filter setting) that fooled the shipped "
               "weights, which the network classifies correctly (none before, by construction). Median queries "
               "count a failure as the whole budget.")
    percents = {name: st.column_config.NumberColumn(format="percent")
                for name in robustness.comparison_rows(report)[0] if name not in ("", "RL median queries")}
    st.dataframe(robustness.comparison_rows(report), hide_index=True, column_config=percents, key="robustness_table")
    st.page_link("rlab_app/pages/attack.py", label="Watch an attack on the hardened weights (Attack page, Victim weights)",
                 icon=":material/bolt:")
    if report.preset == "quick":
        st.caption(f"A quick run: its adaptive agent ({adaptive.recipe['ppo_steps']} PPO steps, "
                   f"{adaptive.recipe['n_inputs']} inputs) is a check of the pipeline, not a measurement.")
    show_samples(spec, report)


def show_samples(spec: VictimProfile, report: RobustnessReport) -> None:
    st.subheader("Fooled the original, not the hardened victim")
    samples = report.samples
    if not samples:
        st.caption("No adversarial test input that fooled the shipped weights is classified correctly after fine-tuning.")
        return
    st.caption("Adversarial test inputs the shipped agent made against the shipped weights, rebuilt from their "
               "trajectories, and what the hardened victim says of the very same input.")
    for k, entry in enumerate(samples):
        shown = robustness_sample(spec.name, entry)
        after = entry["after_attack"]
        truth = true_label(spec, shown.sample) or entry["label_name"]
        st.markdown(f"**{shown.sample.name}** ({truth}): the shipped weights say **{entry['before']['adversarial_label_name']}** "
                    f"after {entry['before']['queries']} queries; the hardened victim says **{entry['hardened']['label_name']}** "
                    f"({entry['hardened']['probability']:.1%}). Attacked again, the hardened victim is "
                    + (f"fooled after {after['queries']} queries." if after["success"] else
                       f"not fooled within {report.evaluation['budget']} queries."))
        st.plotly_chart(comparison_figure(shown.sample.x, shown.x_adv, shown.grid, shown.patch_filters,
                                                shown.sample.scale), key=f"robustness_sample_{k}")


spec = get_profile(st.session_state["victim"])
st.title("Robustness")
st.caption(f"Fine-tune {spec.name} on adversarial samples its own RL agent made from the training split, then "
           "attack the test split before and after: with the shipped agent, with an agent trained again against the "
           "hardened victim, and with ART's Square Attack, a different family.")
if spec.robustness is None:
    st.info(f"{spec.name} is not fine-tuned here (a pretrained network); choose one of: "
            f"{', '.join(name for name, profile in PROFILES.items() if profile.robustness is not None)}.")
    st.stop()

folder = robustness.run_folder(spec.name)
status, _ = jobs.worker_state(folder)
st.subheader("Run")
run_controls(spec, folder, status)
st.fragment(show_progress, run_every=POLL_SECONDS if status == "running" else None)(folder)

st.subheader("Before and after")
report = choose_report(spec, folder)
if report is not None:
    show_report(spec, report)
