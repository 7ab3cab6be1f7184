"""Explain: where the victim looks, by the RL agent's attacks beside Captum's maps, the black-box peers
and the controls, scored against ground truth; the randomisation check and the committed benchmark."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import streamlit as st
import torch

from rlab_app.figures.explain import budget_curves_figure, explanation_figure
from rlab_app.state.attacks import shipped_agent
from rlab_app.state.explanations import (
    RL_METHODS,
    ExplainRequest,
    explain_benchmark,
    explain_input,
    randomisation_rows,
    score_rows,
)
from rlab_app.state.victims import ONNX, network_for, ranked_classes
from rlab_app.widgets import ProgressBar, choose_network, input_for, stopping_on_model_limits, true_label
from rlab_core.agents.agent import AgentError
from rlab_core.explanations import KNOWN, PEERS, WHITE_BOX, Explanation, default_methods, target_of
from rlab_core.sample import Sample
from rlab_core.victims import Victim, VictimProfile, get_profile

RUN = "explain_run"  # the last explanation, (ExplainRequest, Explanation), in st.session_state
DEFAULT_BUDGET = 300
METHOD_NAMES = {"rl": "RL (soft)", "rl_hard": "RL (hard)", "saliency": "Saliency", "ig": "Integrated Gradients",
                "gradcam": "Grad-CAM", "occlusion": "Occlusion", "feature_ablation": "Feature Ablation",
                "shapley": "Shapley Value Sampling", "kernel_shap": "Kernel SHAP", "lime": "LIME", "rise": "RISE",
                "model_free": "control: model-free", "edges": "control: edges", "random": "control: random",
                "model_free_in_cell": "control: model-free in the true cell"}
BUDGETED = (*RL_METHODS, *PEERS)  # the methods the query budget limits
ACCESS_NOTE = ("Saliency, Integrated Gradients and Grad-CAM are white-box (they read the network's gradients); "
               "RL, Occlusion and the peers only query the black box; the controls ask nothing of the model, and "
               "\"model-free in the true cell\" even reads the ground truth: a method is only as good as its margin "
               "over them.")


def available_methods(spec: VictimProfile, weights: str, scored: bool) -> tuple[str, ...]:
    """Every method and control, less the RL ones while the victim has no agent, the white-box ones
    for an uploaded ONNX model, and the ground-truth control without ground truth (each said plainly)."""
    methods: tuple[str, ...] = tuple(m for m in KNOWN if scored or m != "model_free_in_cell")
    if weights == ONNX:
        st.caption("Your ONNX model is a black box here: Saliency, Integrated Gradients and Grad-CAM need its "
                   "gradients, so only the black-box methods and the controls are offered.")
        methods = tuple(m for m in methods if m not in WHITE_BOX)
    try:
        _, warnings = shipped_agent(spec.name)
    except AgentError as err:
        st.warning(f"No RL agent for {spec.name} yet, so the RL maps are not offered; the other methods still "
                   f"run. ({err})")
        return tuple(m for m in methods if m not in RL_METHODS)
    for warning in warnings:
        st.warning(warning)
    return methods


def choose_class(spec: VictimProfile, sample: Sample, ranked: list[tuple[int, float]], names: tuple[str, ...]) -> int:
    """The class to explain: any of the network's, best first; the top-1 unless chosen."""
    present = {part.label for part in sample.parts}
    probability = dict(ranked)

    def label(index: int) -> str:
        return f"{names[index]} ({probability[index]:.1%})" + (", in the input" if index in present else "")

    return st.selectbox("Class to explain", [index for index, _ in ranked], format_func=label,
                        key=f"explain_class_{spec.name}_{sample.name}",
                        help="By default the network's answer. On a mosaic, explain each class it holds in turn: "
                             "its maps are scored against that class's own object and cell.")


def choose_request(spec: VictimProfile, sample: Sample, target: int, weights: str, model: Victim | None,
                   scored: bool) -> ExplainRequest:
    methods = available_methods(spec, weights, scored)
    which, budget, seed = st.columns([3, 1, 1])
    defaults = [m for m in default_methods(weights != ONNX, scored) if m in methods]
    # A key per victim and kind of network: the methods offered depend on the agent and on the gradients.
    chosen = which.multiselect("Methods", methods, default=defaults,
                               format_func=cast(Callable[[Any], str], METHOD_NAMES.get),
                               key=f"explain_methods_{spec.name}" + ("_onnx" if weights == ONNX else ""))
    queries = budget.number_input("Query budget", min_value=10, max_value=100_000, value=DEFAULT_BUDGET, step=50,
                                  key="explain_budget", disabled=not set(chosen) & set(BUDGETED),
                                  help="Each RL attack may spend this many queries (the RL maps come from six "
                                       "attacks: three filters, two seeds); each peer (Feature Ablation, Shapley, "
                                       "Kernel SHAP, LIME, RISE) at most this many in all.")
    number = seed.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="explain_seed")
    return ExplainRequest.of(spec.name, sample, target, tuple(m for m in KNOWN if m in chosen), queries, number,
                             weights, model)


def run(request: ExplainRequest, sample: Sample, model: Victim | None) -> Explanation:
    """The explanation, with a progress bar while the methods run (a cached one returns at once)."""
    bar = ProgressBar(METHOD_NAMES)
    explanation = explain_input(request.victim, sample, request.target, request.methods, request.budget, request.seed,
                                callbacks=[bar], weights=request.weights, model=model)
    bar.on_phase_end()  # a cached explanation ran no phase: its bar goes too
    return explanation


def show_maps(spec: VictimProfile, sample: Sample, explanation: Explanation, truth: torch.Tensor | None) -> None:
    st.subheader("Maps")
    st.markdown(f"Why the victim says **{explanation.label_name}**: each map ranks the input's elements by "
                "importance, scaled to [0, 1] per map.")
    for note in explanation.notes:
        st.warning(note)
    st.caption(ACCESS_NOTE)
    maps = {METHOD_NAMES[name]: m.values for name, m in explanation.maps.items()}
    if truth is not None:
        maps["ground truth"] = truth.float()
    frame = None
    if spec.modality == "video":
        frames = sample.x.shape[1]
        frame = st.slider("Frame", 0, frames - 1, frames // 2, key="explain_frame")
    st.plotly_chart(explanation_figure(sample, maps, frame), key="explain_maps")
    if explanation.rl_success is False:
        st.caption("No RL attack fooled the victim within its budget: the RL maps only rank what the agent tried.")


def show_scores(sample: Sample, explanation: Explanation) -> None:
    st.subheader("Scores")
    if explanation.scores is None:
        st.info(f"No ground truth for {explanation.label_name} in {sample.name}, so the maps are not scored (an "
                "upload, a sample without a marked region, or a class it does not hold).")
        return
    st.dataframe(score_rows(explanation), hide_index=True, key="explain_scores")
    st.caption("dice and iou: the map's top elements, as many as the ground truth's, against it; gridpg (on a "
               "mosaic): the share of the map's positive attribution inside the explained class's cell; "
               "dice_at_rl_area: dice with as many elements as RL (hard) keeps; pointing: whether the map's peak "
               "falls within a patch of the ground truth; queries: the victim's answers the method spent (none for "
               "white-box methods, 0 for the controls).")


def show_randomisation(request: ExplainRequest, sample: Sample) -> None:
    """Adebayo et al.'s sanity check, on demand: it maps the input again on a re-initialised network."""
    st.subheader("Randomisation check")
    if request.weights == ONNX:
        st.caption("The check re-initialises the network's weights, so it needs a built-in victim, not an ONNX file.")
        return
    methods = tuple(m for m in request.methods if m != "model_free_in_cell")
    st.caption("Does the map depend on what the network learnt? Each method maps the same class again on the same "
               "network with every weight re-initialised; a rank correlation near 1 means the map barely changed "
               "(the controls are 1 by construction). Adebayo et al., \"Sanity checks for saliency maps\", 2018.")
    if st.button("Run the randomisation check", key="explain_randomise", disabled=not methods):
        with stopping_on_model_limits():
            rows = randomisation_rows(request.victim, sample, request.target, methods, request.budget, request.seed)
        st.dataframe(rows, hide_index=True, key="explain_randomisation")


def show_benchmark(spec: VictimProfile) -> None:
    """The victim's committed explanation benchmark: whether its set can judge a map, and the
    black-box methods against their query budget."""
    report = explain_benchmark(spec.name)
    if report is None:
        st.caption(f"No committed explanation benchmark for {spec.name} (`python -m benchmarks.explain --victim "
                   f"{spec.name}`).")
        return
    validity = report["validity"]
    where = f"`benchmarks/{Path(report['figure']).with_suffix('.md')}`, {report['inputs']} test items"
    if not validity["valid"]:
        st.warning(f"**This set cannot judge explanations.** On {spec.name}'s test items a map that asks nothing of "
                   f"the model already scores above {validity['bound']}: {'; '.join(validity['failures'])} ({where}). "
                   "Its scores say little about the model; the mosaic victims (image-grid-cnn, video-motion-cnn) are "
                   "the sets made for comparing explanations.")
    else:
        st.caption(f"On this set every map that asks nothing of the model stays at or under {validity['bound']} Dice "
                   f"and GridPG ({where}): a method's margin over them is the model's doing.")
    rows = report.get("curves", {}).get("rows", [])
    if rows:
        with st.expander("Black-box methods against their query budget (committed benchmark)"):
            inputs = report["curves"]["inputs"]
            for metric in ("dice", "gridpg"):
                if any(r.get(f"{metric}_mean") is not None for r in rows):
                    st.plotly_chart(budget_curves_figure(rows, metric, f"{metric} within q queries, {inputs} items"),
                                    key=f"explain_curve_{metric}")
            st.caption(f"Made by `{report['command']}`.")


spec = get_profile(st.session_state["victim"])
st.title("Explain")
st.caption(f"Which parts of the input make {spec.name} answer as it does? The RL agent's attacks show the patches "
           "it must distort to change the answer; Captum's methods, RISE and the controls map the same input, and "
           "where the true region is known every map is scored against it.")

shown = input_for(spec)
weights, model = choose_network(spec)
if weights == ONNX and model is None:
    st.stop()  # choose_network said what it needs
show_benchmark(spec)
with stopping_on_model_limits():
    ranked = ranked_classes(spec.name, shown.x, weights=weights, model=model)
names = spec.class_names if model is None else model.class_names
truth = true_label(spec, shown)
held = ", ".join(names[part.label] for part in shown.parts)
st.markdown(f"The victim says **{names[ranked[0][0]]}** ({ranked[0][1]:.1%})"
            + (f"; the mosaic holds **{held}**." if held else f"; the true label is **{truth}**." if truth else "."))

target = target_of(network_for(spec.name, weights, model), shown, choose_class(spec, shown, ranked, names))
request = choose_request(spec, shown, target.label, weights, model, scored=target.truth is not None)
if st.button("Explain", type="primary", key="explain", disabled=not request.methods):
    with stopping_on_model_limits():
        st.session_state[RUN] = (request, run(request, shown, model))
kept = st.session_state.get(RUN)
if kept is not None and kept[0] == request:
    show_maps(spec, shown, kept[1], target.truth)
    show_scores(shown, kept[1])
    show_randomisation(request, shown)
else:
    st.caption("Press Explain to compute the maps: the RL ones take a few attacks, the others a few seconds.")
