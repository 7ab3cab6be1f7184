"""Explain: where the victim looks, by the RL agent's attacks beside Captum's maps, scored against ground truth."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import streamlit as st

from rlab_app.figures.explain import explanation_figure
from rlab_app.state.attacks import shipped_agent
from rlab_app.state.explanations import RL_METHODS, ExplainRequest, explain_input, score_rows
from rlab_app.state.victims import ONNX, top_classes
from rlab_app.widgets import ProgressBar, choose_network, input_for, stopping_on_model_limits, true_label
from rlab_core.agents.agent import AgentError
from rlab_core.explanations import BLACK_BOX, METHODS, Explanation
from rlab_core.sample import Sample
from rlab_core.victims import Victim, VictimProfile, get_profile

RUN = "explain_run"  # the last explanation, (ExplainRequest, Explanation), in st.session_state
DEFAULT_BUDGET = 300
METHOD_NAMES = {"rl": "RL (soft)", "rl_hard": "RL (hard)", "saliency": "Saliency", "ig": "Integrated Gradients",
                "gradcam": "Grad-CAM", "occlusion": "Occlusion"}
WHITE_BOX_NOTE = ("Saliency, Integrated Gradients and Grad-CAM are white-box (they read the network's gradients); "
                  "RL and Occlusion only query the black box.")


def available_methods(spec: VictimProfile, weights: str) -> tuple[str, ...]:
    """Every method, less the RL ones while the victim has no agent and the white-box ones for an
    uploaded ONNX model (each said plainly)."""
    methods: tuple[str, ...] = METHODS
    if weights == ONNX:
        st.caption("Your ONNX model is a black box here: Saliency, Integrated Gradients and Grad-CAM need its "
                   "gradients, so only the RL maps and Occlusion are offered.")
        methods = BLACK_BOX
    try:
        _, warnings = shipped_agent(spec.name)
    except AgentError as err:
        st.warning(f"No RL agent for {spec.name} yet, so the RL maps are not offered; the other methods still "
                   f"run. ({err})")
        return tuple(m for m in methods if m not in RL_METHODS)
    for warning in warnings:
        st.warning(warning)
    return methods


def choose_request(spec: VictimProfile, sample: Sample, weights: str, model: Victim | None) -> ExplainRequest:
    methods = available_methods(spec, weights)
    which, budget, seed = st.columns([3, 1, 1])
    # A key per victim and kind of network: the methods offered depend on the agent and on the gradients.
    chosen = which.multiselect("Methods", methods, default=methods, format_func=cast(Callable[[Any], str], METHOD_NAMES.get),
                               key=f"explain_methods_{spec.name}" + ("_onnx" if weights == ONNX else ""))
    queries = budget.number_input("Query budget of each RL attack", min_value=10, max_value=100_000,
                                  value=DEFAULT_BUDGET, step=50, key="explain_budget",
                                  disabled=RL_METHODS[0] not in methods,
                                  help="The RL maps come from six attacks (three filters, two seeds); with "
                                       "ground truth they run even without an RL method chosen, for dice_at_rl_area.")
    number = seed.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="explain_seed")
    return ExplainRequest.of(spec.name, sample, tuple(m for m in METHODS if m in chosen), queries, number, weights,
                             model)


def run(request: ExplainRequest, sample: Sample, model: Victim | None) -> Explanation:
    """The explanation, with a progress bar while the methods run (a cached one returns at once)."""
    bar = ProgressBar(METHOD_NAMES)
    explanation = explain_input(request.victim, sample, request.methods, request.budget, request.seed,
                                callbacks=[bar], weights=request.weights, model=model)
    bar.on_phase_end()  # a cached explanation ran no phase: its bar goes too
    return explanation


def show_results(spec: VictimProfile, sample: Sample, explanation: Explanation) -> None:
    st.subheader("Maps")
    st.markdown(f"Why the victim says **{explanation.label_name}**: each map ranks the input's elements by "
                "importance, scaled to [0, 1] per map.")
    for note in explanation.notes:
        st.warning(note)
    st.caption(WHITE_BOX_NOTE)
    maps = {METHOD_NAMES[name]: m.values for name, m in explanation.maps.items()}
    if sample.mask is not None:
        maps["ground truth"] = sample.mask.float()
    frame = None
    if spec.modality == "video":
        frames = sample.x.shape[1]
        frame = st.slider("Frame", 0, frames - 1, frames // 2, key="explain_frame")
    st.plotly_chart(explanation_figure(sample, maps, frame), key="explain_maps")
    if explanation.rl_success is False:
        st.caption("No RL attack fooled the victim within its budget: the RL maps only rank what the agent tried.")
    st.subheader("Scores")
    if explanation.scores is None:
        st.info(f"No ground truth for {sample.name}, so the maps are not scored (an upload, or a sample without "
                "a marked region).")
        return
    st.dataframe(score_rows(explanation), hide_index=True, key="explain_scores")
    st.caption("dice and iou: the map's top elements, as many as the ground truth's, against it; dice_at_rl_area: "
               "the same with as many as RL (hard) keeps; pointing: whether the map's peak falls within a patch "
               "of the ground truth; queries: the victim's answers the method spent (none for white-box methods).")


spec = get_profile(st.session_state["victim"])
st.title("Explain")
st.caption(f"Which parts of the input make {spec.name} answer as it does? The RL agent's attacks show the patches "
           "it must distort to change the answer; Captum's methods map the same input, and where the true region "
           "is known every map is scored against it.")

shown = input_for(spec)
weights, model = choose_network(spec)
if weights == ONNX and model is None:
    st.stop()  # choose_network said what it needs
with stopping_on_model_limits():
    top1, prob = top_classes(spec.name, shown.x, weights=weights, model=model)[0]
truth = true_label(spec, shown)
st.markdown(f"The victim says **{top1}** ({prob:.1%})" + (f"; the true label is **{truth}**." if truth else ".")
            + " The maps explain its answer.")

request = choose_request(spec, shown, weights, model)
if st.button("Explain", type="primary", key="explain", disabled=not request.methods):
    with stopping_on_model_limits():
        st.session_state[RUN] = (request, run(request, shown, model))
kept = st.session_state.get(RUN)
if kept is not None and kept[0] == request:
    show_results(spec, shown, kept[1])
else:
    st.caption("Press Explain to compute the maps: the RL ones take a few attacks, the others a few seconds.")
