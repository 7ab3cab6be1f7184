"""Widgets more than one page lays out: choosing the input (a test sample or an upload).

Pages import these rather than each other (a page's module runs its page when imported). Streamlit
forgets a widget's value when a page without it runs, so each page starts at test sample 0.
"""
from __future__ import annotations

import streamlit as st

from rlab_core import app_support, plots
from rlab_core.io import ECG_FS_RANGE, MAX_BYTES, SUFFIXES, InputError, LoadedInput
from rlab_core.sample import Sample
from rlab_core.victims import VictimSpec


def choose_input(spec: VictimSpec) -> Sample:
    """The test-sample picker and the upload box side by side; a usable upload wins."""
    gallery, uploads = st.columns(2)
    with uploads:  # filled first: a usable upload replaces the test sample
        loaded = read_upload(spec)
    with gallery:
        sample = pick_test_sample(spec, disabled=loaded is not None)
    return loaded.sample if loaded is not None else sample


def read_upload(spec: VictimSpec) -> LoadedInput | None:
    """The upload box, with the sampling rate and beat for ECG. ``None`` without a usable file;
    a bad file shows the loader's message and the page goes on with the test sample."""
    upload = st.file_uploader("…or upload a file", type=[suffix.lstrip(".") for suffix in SUFFIXES[spec.modality]],
                              max_upload_size=MAX_BYTES[spec.modality] // 2**20, key=f"upload_{spec.modality}")
    fs = None
    if spec.modality == "ecg":
        fs = st.number_input("Sampling rate in Hz, if the file has no time column", min_value=ECG_FS_RANGE[0],
                             max_value=ECG_FS_RANGE[1], value=None, key="ecg_fs",
                             placeholder=f"a single {spec.input_shape[-1]}-sample beat needs none")
    if upload is None:
        return None
    try:
        loaded = app_support.load_upload(spec.name, upload.getvalue(), upload.name, fs)
        if len(loaded.beats) > 1:
            beat = st.slider(f"Beat ({len(loaded.beats)} found)", 0, len(loaded.beats) - 1)
            loaded = app_support.load_upload(spec.name, upload.getvalue(), upload.name, fs, beat)
            st.plotly_chart(plots.recording_figure(loaded.recording, loaded.fs, loaded.beats, beat))
    except InputError as err:
        st.error(str(err))
        return None
    return loaded


def pick_test_sample(spec: VictimSpec, disabled: bool) -> Sample:
    """Item N of the victim's test split (the CLI's ``--sample N``)."""
    count = len(app_support.victim_test_split(spec.name))
    # A key per victim: each test split has its own length, so its own widget.
    index = st.number_input(f"Test sample (0 to {count - 1})", min_value=0, max_value=count - 1, value=0, step=1,
                            key=f"sample_{spec.name}", disabled=disabled)
    sample = app_support.victim_test_sample(spec.name, int(index))
    if disabled:
        st.caption("An upload is shown: remove it (×) to browse the test split.")
    else:
        st.caption(f"{sample.name}, true label: {true_label(spec, sample) or 'none (unlabelled)'}")
    return sample


def true_label(spec: VictimSpec, sample: Sample) -> str | None:
    return spec.class_names[sample.y] if sample.y is not None else None
