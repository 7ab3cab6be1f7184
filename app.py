"""RLAB's Streamlit app: ``streamlit run app.py``.

This script runs on every interaction: it draws the shared sidebar (modality and victim, stored
in ``st.session_state`` for the pages) and then the page chosen in the navigation. A new page is
one more file in ``rlab_app/pages/`` and one more ``st.Page`` in ``PAGES``.
"""
from collections.abc import Callable
from typing import Any, cast

import streamlit as st
import torch

from rlab_core.victims import DEFAULT_VICTIM, MODALITIES, get_profile, victims_for

# The pages folder lives inside the package (rlab_app/pages/), not beside this script: Streamlit's old
# multipage mode reads a folder named pages/ beside the main script as pages of their own until
# st.navigation first runs, so a server's first run, and every run under AppTest, would start a page
# without this script's sidebar.
PAGES = [
    st.Page("rlab_app/pages/inspect.py", title="Inspect", icon=":material/search:", default=True),
    st.Page("rlab_app/pages/attack.py", title="Attack", icon=":material/bolt:"),
    st.Page("rlab_app/pages/explain.py", title="Explain", icon=":material/visibility:"),
    st.Page("rlab_app/pages/robustness.py", title="Robustness", icon=":material/shield:"),
    st.Page("rlab_app/pages/benchmark.py", title="Benchmark", icon=":material/leaderboard:"),
]
MODALITY_NAMES = {"ecg": "ECG", "image": "Image", "video": "Video"}


def choose_victim() -> None:
    """Sidebar: pick a modality, then one of its victims; pages read ``st.session_state["victim"]``."""
    with st.sidebar:
        # cast: dict.get may give None, Streamlit's stub wants a str; every option is a key (and None would show as "None").
        modality = st.selectbox("Modality", MODALITIES, index=MODALITIES.index("image"),
                                format_func=cast(Callable[[Any], str], MODALITY_NAMES.get), key="modality")
        names = victims_for(modality)
        # A key per modality: each modality's list of victims is a different widget, starting at its default.
        victim = st.selectbox("Victim", names, index=names.index(DEFAULT_VICTIM[modality]), key=f"victim_{modality}")
        st.caption(get_profile(victim).description)
    st.session_state["victim"] = victim


# Every session's runs are threads of this one process. With torch's default (a thread per core per
# call) concurrent sessions oversubscribe the cores and their threads spin against each other: on 2
# cores, in tests/test_load.py, two of five sessions' explanations had not ended after four minutes.
# One thread per call, as the CLI's workers and the tests use: the sessions share the cores.
torch.set_num_threads(1)
st.set_page_config(page_title="RLAB", layout="wide")
page = st.navigation(PAGES)
choose_victim()
page.run()
