"""What the app's pages share: cached loading and prediction.

Every widget change reruns a page from the top, so anything slow goes through Streamlit's caches:
``st.cache_resource`` for objects kept as they are (models, datasets), ``st.cache_data`` for
results (copied on every read, so a page cannot alter a cached value). The functions also work
outside a running app (the caches then simply stay in memory), so tests can call them.
"""
from __future__ import annotations

import streamlit as st
import torch
from torch import nn

from rlab_core.io import LoadedInput, load_input
from rlab_core.sample import Sample
from rlab_core.victims import get_spec, load_model, predict_proba

# No function here is named test_*: pytest would collect it from any test module that imports it.

TOP_K = 5


@st.cache_resource(show_spinner="Loading the victim…")
def victim_model(victim: str) -> nn.Module:
    """The victim's network, loaded once, with a spinner. ``load_model`` keeps the same instance for
    ``predict_proba``; pages call this first to say plainly when the weights are missing
    (``VictimError`` is never cached, so the app picks the weights up as soon as they exist)."""
    return load_model(victim)


@st.cache_resource(show_spinner="Loading the test split…")
def victim_test_split(victim: str):
    """The victim's seeded test split: ``len()`` and indexing give :class:`Sample` items."""
    return get_spec(victim).dataset("test")


def victim_test_sample(victim: str, index: int) -> Sample:
    """Item ``index`` of the victim's test split, as ``--sample N`` picks it on the command line."""
    return victim_test_split(victim)[index]


@st.cache_data(show_spinner="Reading the file…", max_entries=16)
def load_upload(victim: str, data: bytes, filename: str, fs: float | None = None, beat: int = 0) -> LoadedInput:
    """An uploaded file as an input for ``victim``; raises ``InputError`` with a message for the user."""
    return load_input(data, filename, get_spec(victim), fs=fs, beat=beat)


# Inputs are keyed by their exact bytes: Streamlit's own hashing samples large arrays, which would
# let two inputs that differ in a few pixels (an input and its adversarial copy) share one entry.
@st.cache_data(show_spinner="Asking the victim…", max_entries=256,
               hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def top_classes(victim: str, x: torch.Tensor, k: int = TOP_K) -> list[tuple[str, float]]:
    """The victim's ``k`` most probable classes for ``x``, best first, as ``(name, probability)``."""
    probs = predict_proba(victim, x)
    top = probs.topk(min(k, len(probs)))
    names = get_spec(victim).class_names
    return [(names[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
