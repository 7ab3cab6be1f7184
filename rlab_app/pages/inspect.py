"""Inspect: a test sample or an uploaded file, drawn as the victim sees it, and the victim's top classes."""
from __future__ import annotations

import streamlit as st

from rlab_app.figures.inputs import input_figure, top_figure
from rlab_app.state.victims import ONNX, builtin_victim, top_classes
from rlab_app.widgets import choose_input, choose_network, stopping_on_model_limits, true_label
from rlab_core.sample import Sample
from rlab_core.victims import VictimError, VictimProfile, get_profile


def show_prediction(spec: VictimProfile, sample: Sample) -> None:
    st.subheader("The victim's answer")
    try:
        builtin_victim(spec.name)
    except VictimError as err:  # weights not trained yet: the input is still shown
        st.error(str(err))
        return
    weights, model = choose_network(spec)
    if weights == ONNX and model is None:
        return  # choose_network said what it needs
    with stopping_on_model_limits():
        top = top_classes(spec.name, sample.x, weights=weights, model=model)
    label, prob = top[0]
    truth = true_label(spec, sample)
    st.markdown(f"Top-1: **{label}** ({prob:.1%})")
    if truth is None:
        st.markdown("No true label: the victim's top-1 stands in for it.")
    else:
        st.markdown(f"True label: **{truth}** ({'correct' if label == truth else 'misclassified'})")
    st.plotly_chart(top_figure(top, truth))
    if truth in dict(top):
        st.caption("In green: the true class.")


spec = get_profile(st.session_state["victim"])
st.title("Inspect")
st.caption(f"{spec.name} is a black box: RLAB sees only the class probabilities it returns, "
           "never its weights or gradients.")

shown = choose_input(spec)

for notice in shown.notices:
    st.info(notice)
drawing, answer = st.columns([3, 2])
with drawing:
    st.subheader(shown.name)
    st.plotly_chart(input_figure(shown))
with answer:
    show_prediction(spec, shown)
