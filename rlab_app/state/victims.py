"""The victims the pages work on, cached: built-in ones and uploaded ONNX models, their test splits
and gallery, uploaded inputs, and their classes ranked."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from rlab_app.figures.inputs import thumbnail
from rlab_core.io import LoadedInput, load_input
from rlab_core.sample import Sample
from rlab_core.victims import WEIGHT_CHOICES, Victim, get_profile, weights_file

TOP_K = 5
GALLERY_SIZE = 8  # the test samples the gallery shows as thumbnails
ONNX = "onnx"  # the weights choice of an uploaded ONNX model
WEIGHT_NAMES = {**WEIGHT_CHOICES, ONNX: "your ONNX model"}


def builtin_victim(victim: str, weights: str = "shipped") -> Victim:
    """Built-in ``victim`` with ``weights`` (a key of ``WEIGHT_CHOICES``), loaded once per version of
    its weights file, so that weights hardened again while the app runs are picked up. Pages call it
    first to say plainly when the weights are missing: ``VictimError`` is never cached, so the app
    picks the weights up as soon as they exist."""
    return _builtin_victim(victim, weights, modified(weights_file(victim, weights)))


@st.cache_resource(show_spinner="Loading the victim…", max_entries=16)
def _builtin_victim(victim: str, weights: str, modified: int | None) -> Victim:
    return Victim.builtin(victim, weights)


@st.cache_resource(show_spinner="Loading the test split…")
def victim_test_split(victim: str):
    """The victim's seeded test split: ``len()`` and indexing give :class:`Sample` items."""
    return get_profile(victim).dataset("test")


def victim_test_sample(victim: str, index: int) -> Sample:
    """Item ``index`` of the victim's test split, as ``--sample N`` picks it on the command line."""
    return victim_test_split(victim)[index]


@dataclass(frozen=True)
class Thumbnail:
    """One test sample in the gallery: its picture (a PNG), name and true label (``None``: unlabelled)."""

    png: bytes
    name: str
    label: str | None


@st.cache_data(show_spinner="Drawing the gallery…", max_entries=16)
def gallery(victim: str, count: int = GALLERY_SIZE) -> list[Thumbnail]:
    """Thumbnails of the first ``count`` items of the victim's test split (fewer if it is shorter)."""
    split, names = victim_test_split(victim), get_profile(victim).class_names
    items = [split[index] for index in range(min(count, len(split)))]
    return [Thumbnail(thumbnail(item.x), item.name, None if item.y is None else names[item.y]) for item in items]


@st.cache_data(show_spinner="Reading the file…", max_entries=16)
def load_upload(victim: str, data: bytes, filename: str, fs: float | None = None, beat: int = 0) -> LoadedInput:
    """An uploaded file as an input for ``victim``; raises ``InputError`` with a message for the user."""
    return load_input(data, filename, get_profile(victim), fs=fs, beat=beat)


@st.cache_resource(show_spinner="Checking the uploaded model…", max_entries=4,
                   hash_funcs={bytes: lambda data: hashlib.sha256(data).hexdigest()})
def onnx_model(victim: str, data: bytes, filename: str) -> Victim:
    """An uploaded ONNX classifier shaped like ``victim``, checked once per file; raises ``VictimError``."""
    return Victim.from_onnx(data, like=victim, filename=filename)


def modified(path: Path) -> int | None:
    """The file's modification time, part of a cache key (``None`` while it does not exist)."""
    return path.stat().st_mtime_ns if path.exists() else None


def network_for(victim: str, weights: str, model: Victim | None) -> Victim:
    """The network a page works on: the uploaded ``model`` if there is one, else the victim with ``weights``."""
    return model if model is not None else builtin_victim(victim, weights)


def network_version(victim: str, weights: str, model: Victim | None) -> int | str | None:
    """What tells one version of the chosen network from another, for cache keys: the uploaded
    model's hash, the hardened file's time (``None`` for the shipped weights)."""
    if model is not None:
        return model.sha256
    return None if weights == "shipped" else modified(weights_file(victim, weights))


def top_classes(victim: str, x: torch.Tensor, k: int = TOP_K, weights: str = "shipped",
                model: Victim | None = None) -> list[tuple[str, float]]:
    """The ``k`` most probable classes for ``x`` of the victim with ``weights`` (or the uploaded
    ``model``, with ``weights`` :data:`ONNX`), best first, as ``(name, probability)``."""
    names = network_for(victim, weights, model).class_names
    return [(names[index], p) for index, p in ranked_classes(victim, x, weights, model)[:k]]


def ranked_classes(victim: str, x: torch.Tensor, weights: str = "shipped",
                   model: Victim | None = None) -> list[tuple[int, float]]:
    """Every class index with its probability for ``x``, best first (ties in index order)."""
    return _ranked_classes(victim, x, weights, network_version(victim, weights, model), model)


# Inputs are keyed by their exact bytes: Streamlit's own hashing samples large arrays, which would
# let two inputs that differ in a few pixels (an input and its adversarial copy) share one entry.
@st.cache_data(show_spinner="Asking the victim…", max_entries=256,
               hash_funcs={torch.Tensor: lambda x: x.numpy().tobytes()})
def _ranked_classes(victim: str, x: torch.Tensor, weights: str, version: int | str | None,
                    _model: Victim | None) -> list[tuple[int, float]]:
    probs = network_for(victim, weights, _model).probabilities(x)
    return [(int(i), float(probs[i])) for i in np.argsort(-probs, kind="stable")]
