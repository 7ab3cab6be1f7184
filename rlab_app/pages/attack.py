"""Attack: the RL agent (or random order, the reference) against the victim, live, then the result and its replay."""
from __future__ import annotations

import math
import time

import streamlit as st

from rlab_app.figures.attack import attack_state_figure, comparison_figure, probability_figure
from rlab_app.state.attacks import (
    ATTACKERS,
    AttackRun,
    AttackSettings,
    adaptive_agent,
    attack_files,
    run_attack,
    shipped_agent,
)
from rlab_app.state.victims import ONNX, network_version, top_classes
from rlab_app.widgets import choose_network, input_for, stopping_on_model_limits, true_label
from rlab_core.agents.agent import AgentError, agent_path
from rlab_core.attacks import DEFAULT_BUDGET, attack_filters
from rlab_core.attacks.replay import TrajectoryReplay, put_back
from rlab_core.attacks.result import StepRecord
from rlab_core.attacks.session import default_max_patches
from rlab_core.callbacks import Callback
from rlab_core.filters import filter_names, get_filter, resolve_filters
from rlab_core.patches import PatchGrid
from rlab_core.sample import Sample
from rlab_core.victims import VictimError, VictimProfile, get_profile

RUN = "attack_run"  # the last finished attack, an AttackRun, in st.session_state
REDRAW_SECONDS = 0.1  # the live view redraws at most this often: a fast attack takes a few ms per step,
DRAWING_SHARE = 0.25  # and spends at most about this share of its time drawing (a clip's view is slower to draw)
MIX_LABEL = "mix (the attacker picks the filter per step)"


def choose_settings(spec: VictimProfile, grid: PatchGrid, weights: str) -> tuple[AttackSettings, bool]:
    """The attack's settings, and whether it can run (an RL attacker needs its agent)."""
    who, what, how_much = st.columns(3)
    with who:
        has_agent = agent_path(spec.name).exists()
        attackers = [a for a in ATTACKERS if a != "adaptive" or weights not in ("shipped", ONNX)]
        # A key per victim and weights: whether the RL agent is the default depends on the victim.
        attacker = st.radio("Attacker", attackers, format_func=ATTACKERS.get, index=0 if has_agent else len(attackers) - 1,
                            key=f"attacker_{spec.name}_{weights}")
        # Without the shipped agent the random attacker is the default, and the page still says why.
        needed = "rl" if attacker == "random" and not has_agent else attacker
        loaded = needed == "random" or agent_ready(spec.name, needed, weights)
        ready = attacker == "random" or loaded
    with what:
        names = ["mix", *filter_names()]
        chosen = st.selectbox("Filter", names, format_func=lambda n: MIX_LABEL if n == "mix" else n, key="attack_filter")
        strength = None
        if chosen == "mix":
            strengths = attack_filters(spec, "mix")[1]
            st.caption("Each filter at its strength for this victim: "
                       + ", ".join(f"{f.name} {s:g}" for f, s in zip(resolve_filters("mix"), strengths)))
        else:
            flt = get_filter(chosen)
            low, high = flt.strength_range
            # A key per victim and filter: each starts at the victim's own strength for that filter.
            strength = st.slider(f"Strength of {chosen}", float(low), float(high),
                                 float(attack_filters(spec, chosen)[1][0]), step=(high - low) / 100,
                                 key=f"strength_{spec.name}_{chosen}", help=flt.description)
            st.caption(flt.description)
    with how_much:
        budget = st.number_input("Query budget (the clean prediction included)", min_value=2, max_value=100_000,
                                 value=DEFAULT_BUDGET, step=100, key="attack_budget")
        cap = st.number_input(f"Patch cap (of the {grid.n_patches} patches)", min_value=1, max_value=grid.n_patches,
                              value=default_max_patches(grid), step=1, key=f"max_patches_{spec.name}")
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="attack_seed")
    return AttackSettings(attacker, chosen, strength, int(budget), int(cap), int(seed), weights), ready


def agent_ready(victim: str, attacker: str, weights: str) -> bool:
    """Load the attacker's agent (once); say so when there is none or it may not fit."""
    try:
        _, warnings = (shipped_agent(victim) if attacker == "rl"
                       else adaptive_agent(victim, weights))
    except (AgentError, VictimError) as err:
        st.warning(f"No such RL agent yet: {err}. The random attacker can run meanwhile.")
        return False
    for warning in warnings:
        st.warning(warning)
    return True


class LiveView(Callback):
    """A callback for the attack: follows the trajectory and redraws ``slot`` at most every
    :data:`REDRAW_SECONDS`, and less often when a redraw is slow, so that drawing takes at most
    about :data:`DRAWING_SHARE` of the attack's time."""

    def __init__(self, slot, spec: VictimProfile, sample: Sample, settings: AttackSettings,
                 clean_top: tuple[str, float]) -> None:
        self.slot, self.spec, self.sample, self.settings, self.clean_top = slot, spec, sample, settings, clean_top
        self.state = TrajectoryReplay(sample.x, spec, settings.filter, settings.strength, settings.seed)
        self.records: list[StepRecord] = []
        self.drawn_at = time.monotonic()
        self.pause = REDRAW_SECONDS
        self.draws = 0

    def on_attack_step(self, record: StepRecord) -> None:
        self.records.append(record)
        self.state.step(record)
        if time.monotonic() - self.drawn_at >= self.pause:
            self.draw()

    def draw(self) -> None:
        started = time.monotonic()
        self.draws += 1
        with self.slot.container():
            show_stage(self.spec, self.sample, self.state, self.records, len(self.records), len(self.records),
                       self.clean_top, key=f"live{self.draws}")
        self.drawn_at = time.monotonic()
        self.pause = max(REDRAW_SECONDS, (self.drawn_at - started) * (1 - DRAWING_SHARE) / DRAWING_SHARE)


def show_stage(spec: VictimProfile, sample: Sample, state: TrajectoryReplay, records: list, upto: int, steps: int,
               clean_top: tuple[str, float], key: str) -> None:
    """The input after ``upto`` steps (its patches framed by filter, the last step's patch
    outlined), counters, and the true class's probability over the steps (``steps`` wide),
    starting from the attacked weights' answer on the clean input, ``clean_top``."""
    last = records[upto - 1] if upto else None
    picture, chart = st.columns(2)
    with picture:
        st.plotly_chart(attack_state_figure(sample.x, state.x_adv(), state.grid, state.patch_filters(), last,
                                                  sample.scale), key=f"{key}_state")
        if spec.modality == "video":
            st.caption("The first frame of each block of frames the patches span.")
    with chart:
        counters = st.columns(4)
        counters[0].metric("Step", upto)
        counters[1].metric("Queries", last.queries if last else 1)
        counters[2].metric("Patches", state.n_distorted)
        counters[3].metric("L2", f"{state.l2:.3f}")
        top1, prob = state.top[0] if state.top else clean_top
        st.markdown(f"The victim's top-1 now: **{top1}** ({prob:.1%})")
        st.plotly_chart(probability_figure(records, clean_top[1], upto, steps), key=f"{key}_prob")


def describe_step(record: StepRecord | None, clean_top: tuple[str, float]) -> str:
    if record is None:
        return f"Step 0: the clean input; the victim says {clean_top[0]} ({clean_top[1]:.1%})."
    name, prob = record.top[0]
    if put_back(record):
        return (f"Step {record.step} ({record.queries} queries): pruning tried removing the {record.filter} of patch "
                f"{record.patch}, but without it the victim says {name} ({prob:.1%}) again: put back.")
    what = {"add": f"added {record.filter} to patch {record.patch}",
            "remove": f"removed the {record.filter} of patch {record.patch}",
            "prune": f"pruning removed the {record.filter} of patch {record.patch}"}[record.action]
    return (f"Step {record.step} ({record.queries} queries): {what}; the victim says {name} ({prob:.1%}), "
            f"the true class has {record.true_prob:.1%}.")


def show_summary(run: AttackRun) -> None:
    result = run.result
    st.subheader("Result")
    st.caption(run.settings.describe())
    if result.success:
        st.success(f"Fooled: **{result.label_name}** → **{result.adversarial_label_name}** after {result.queries} "
                   f"queries, with {result.l0_patches} distorted patch{'' if result.l0_patches == 1 else 'es'}.")
    else:
        st.warning(f"Not fooled: after {result.queries_total} queries the victim still says "
                   f"**{result.adversarial_label_name}**.")
    if result.ssim is not None:
        similarity = ("SSIM", f"{result.ssim:.3f}")
    else:
        assert result.snr_db is not None  # an ECG's result: its SNR instead of an SSIM
        similarity = ("SNR", "∞ dB" if math.isinf(result.snr_db) else f"{result.snr_db:.1f} dB")
    figures: list[tuple[str, int | str, str | None]] = [
        ("Queries", result.queries, "to the first misclassification (the budget if it failed)"),
        ("With pruning", result.queries_total, "every query, pruning included"),
        ("Patches (L0)", result.l0_patches, f"{result.l0_elements} input elements changed"),
        ("L2", f"{result.l2:.3f}", "in [0, 1] input scale"),
        ("L∞", f"{result.linf:.3f}", "in [0, 1] input scale"),
        (*similarity, "structural similarity" if result.ssim is not None else "signal-to-noise ratio"),
        ("Remove rate", f"{result.remove_rate:.0%}", "the attacker's own removals among its steps"),
        ("Seconds", f"{result.seconds:.2f}", None)]
    for column, (label, value, help) in zip(st.columns(len(figures)), figures):
        column.metric(label, value, help=help)


def show_comparison(run: AttackRun, final: TrajectoryReplay) -> None:
    st.plotly_chart(comparison_figure(run.sample.x, run.result.x_adv, final.grid, final.patch_filters(),
                                            run.sample.scale), key="comparison")
    st.caption("Downloads")
    for column, (name, (data, mime)) in zip(st.columns(len(run.files)), run.files.items()):
        column.download_button(name.rsplit("-", 1)[-1], data, file_name=name, mime=mime, on_click="ignore",
                               key=f"download_{name}", help=name)


def show_replay(run: AttackRun, slot) -> None:
    """A slider over the steps; ``slot`` redraws the input and the chart at the chosen one."""
    trajectory = run.result.trajectory
    st.subheader("Replay")
    if not trajectory:
        st.caption("The attack took no step.")
        return
    # A key per run: a new attack's replay starts at its last step.
    upto = st.slider("Step of the attack", 0, len(trajectory), len(trajectory), key=f"replay_{run.number}")
    st.caption(describe_step(trajectory[upto - 1] if upto else None, run.clean_top))
    state = TrajectoryReplay(run.sample.x, get_profile(run.victim), run.settings.filter, run.settings.strength,
                             run.settings.seed).run(trajectory[:upto])
    with slot.container():
        show_stage(get_profile(run.victim), run.sample, state, trajectory, upto, len(trajectory), run.clean_top,
                   key="replay")


spec = get_profile(st.session_state["victim"])
st.title("Attack")
st.caption(f"Distort a few patches of the input until {spec.name} changes its answer, asking it only for its "
           "class probabilities: one query per step.")

shown = input_for(spec)
weights, model = choose_network(spec)
if weights == ONNX and model is None:
    st.stop()  # choose_network said what it needs
network = network_version(spec.name, weights, model)
with stopping_on_model_limits():
    clean_top = top_classes(spec.name, shown.x, weights=weights, model=model)[0]
truth = true_label(spec, shown)
if truth is not None and clean_top[0] != truth:
    st.warning(f"{shown.name} is already misclassified: the victim says **{clean_top[0]}** ({clean_top[1]:.1%}), "
               f"the true label is **{truth}**. There is nothing to attack.")
    st.stop()
target = truth or clean_top[0]
st.markdown(f"The victim says **{clean_top[0]}** ({clean_top[1]:.1%})"
            + ("" if truth else ", which stands in for the missing true label")
            + f": the attack succeeds when its top-1 is anything but {target}.")

grid = spec.grid
settings, ready = choose_settings(spec, grid, weights)
clicked = st.button("Attack", type="primary", key="attack", disabled=not ready)
summary, comparison, replay_slider = st.container(), st.container(), st.container()
stage = st.empty()  # live during an attack, the replay after it, the input and its grid before

if clicked:
    live = LiveView(stage, spec, shown, settings, clean_top)
    live.draw()
    with stopping_on_model_limits():
        result = run_attack(spec.name, shown.x, shown.y, settings, callbacks=[live], model=model)
    previous = st.session_state.get(RUN)
    st.session_state[RUN] = AttackRun(previous.number + 1 if previous else 1, spec.name, shown, settings, result,
                                      clean_top, attack_files(spec.name, shown, settings, result, model),
                                      network)

run = st.session_state.get(RUN)
if run is not None and run.is_on(spec.name, shown, weights, network):
    if run.result.already_misclassified:  # a victim that changed under a kept run
        with summary:
            st.warning(f"{shown.name} was already misclassified: there was nothing to attack.")
    else:
        final = TrajectoryReplay(shown.x, spec, run.settings.filter, run.settings.strength,
                                 run.settings.seed).run(run.result.trajectory)
        with summary:
            show_summary(run)
        with comparison:
            show_comparison(run, final)
        with replay_slider:
            show_replay(run, stage)
else:
    with stage.container():
        show_stage(spec, shown, TrajectoryReplay(shown.x, spec), [], 0, 0, clean_top, key="preview")
        st.caption("The input and its patch grid: press Attack to see the attack step by step.")
