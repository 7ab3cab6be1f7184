"""Widgets more than one page lays out: choosing the input (a test sample, from the gallery or by
number, or an upload) and the network (shipped, hardened or an uploaded ONNX model), and following
a background run (:mod:`rlab_app.jobs`): its Start and Stop buttons, the redraw once it
ends, how it ended.

Pages import these rather than each other (a page's module runs its page when imported). Streamlit
forgets a widget's value when a page without it runs, so each page starts at test sample 0.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from rlab_app import jobs
from rlab_app.figures.inputs import recording_figure
from rlab_app.state.victims import (
    GALLERY_SIZE,
    ONNX,
    WEIGHT_NAMES,
    builtin_victim,
    gallery,
    load_upload,
    onnx_model,
    victim_test_sample,
    victim_test_split,
)
from rlab_core.callbacks import Callback
from rlab_core.decode import ECG_FS_RANGE, InputError
from rlab_core.io import MAX_BYTES, SUFFIXES, LoadedInput
from rlab_core.sample import Sample
from rlab_core.victims import Victim, VictimError, VictimProfile, weight_choices
from rlab_core.victims.jail import ModelStopped
from rlab_core.victims.onnx_model import MAX_MODEL_BYTES


def input_for(spec: VictimProfile) -> Sample:
    """The input a page works on (:func:`choose_input`), with its notices; stops the page, saying
    why, if the victim's weights cannot be loaded (there is nothing to ask then)."""
    shown = choose_input(spec)
    for notice in shown.notices:
        st.info(notice)
    try:
        builtin_victim(spec.name)
    except VictimError as err:
        st.error(str(err))
        st.stop()
    return shown


def choose_network(spec: VictimProfile) -> tuple[str, Victim | None]:
    """What to attack: the victim's shipped weights, hardened ones once there are any, or a model of
    the user's own (ONNX, taking the victim's input). Returns the choice and the uploaded model;
    ``(ONNX, None)``, having said why, while an ONNX choice has no usable model yet."""
    choices = [*weight_choices(spec.name), ONNX]
    # A key per victim: each has its own hardened weights.
    weights = st.radio("Network to attack", choices, format_func=lambda c: WEIGHT_NAMES[c][:1].upper() + WEIGHT_NAMES[c][1:],
                       horizontal=True, key=f"weights_{spec.name}",
                       help="The Robustness page fine-tunes the victim on its agent's adversarial samples: attack the "
                            "hardened weights to see whether they hold. Or bring your own classifier as ONNX.")
    if weights != ONNX:
        return weights, None
    uploaded = upload_onnx(spec, key=f"onnx_{spec.name}")
    return weights, None if uploaded is None else uploaded[1]


def upload_onnx(spec: VictimProfile, key: str, disabled: bool = False) -> tuple[bytes, Victim] | None:
    """An upload box for the user's ONNX classifier shaped like ``spec``: the file's bytes and the
    model, checked once; ``None``, having said why, while there is no usable file."""
    shape = ", ".join(map(str, spec.input_shape))
    upload = st.file_uploader(f"Your classifier as ONNX: input (batch, {shape}) in [0, 1], one score per class of "
                              f"{spec.name} ({len(spec.class_names)})", type=["onnx"],
                              max_upload_size=MAX_MODEL_BYTES // 2**20, key=key, disabled=disabled)
    if upload is None:
        st.info(f"Upload an .onnx model that takes {spec.name}'s input; {spec.name}'s test inputs, grid, filters and "
                "RL agent probe it as a black box. (Exported with e.g. `torch.onnx.export`; never unpickled.)")
        return None
    try:
        return upload.getvalue(), onnx_model(spec.name, upload.getvalue(), upload.name)
    except VictimError as err:
        st.error(str(err))
        return None


@contextmanager
def stopping_on_model_limits() -> Iterator[None]:
    """Around what queries an uploaded model: when its jail stops it (too slow, too much memory, a
    crash), show why and end this run of the page. Other sessions go on, and the next run of this
    one starts a new worker."""
    try:
        yield
    except ModelStopped as stopped:
        st.error(f"{stopped}. Nothing was kept from this run; the model's worker starts afresh on the next one.")
        st.stop()


def choose_input(spec: VictimProfile) -> Sample:
    """A gallery of the first test samples above the test-sample picker and the upload box; a usable upload wins."""
    gallery_slot = st.container()
    picker, uploads = st.columns(2)
    with uploads:  # filled first: a usable upload replaces the test sample
        loaded = read_upload(spec)
    with picker:
        index, sample = pick_test_sample(spec, disabled=loaded is not None)
    with gallery_slot:  # filled last, to mark the sample the picker holds
        show_gallery(spec, index, disabled=loaded is not None)
    return loaded.sample if loaded is not None else sample


def read_upload(spec: VictimProfile) -> LoadedInput | None:
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
        loaded = load_upload(spec.name, upload.getvalue(), upload.name, fs)
        if len(loaded.beats) > 1:
            beat = st.slider(f"Beat ({len(loaded.beats)} found)", 0, len(loaded.beats) - 1)
            loaded = load_upload(spec.name, upload.getvalue(), upload.name, fs, beat)
            assert loaded.recording is not None  # an ECG's beats come with its recording
            st.plotly_chart(recording_figure(loaded.recording, loaded.fs, loaded.beats, beat))
    except InputError as err:
        st.error(str(err))
        return None
    return loaded


def sample_key(spec: VictimProfile) -> str:
    """The session-state key of the test-sample picker. A key per victim: each test split has its
    own length, so its own widget."""
    return f"sample_{spec.name}"


def pick_test_sample(spec: VictimProfile, disabled: bool) -> tuple[int, Sample]:
    """Item N of the victim's test split (the CLI's ``--sample N``), and N."""
    count = len(victim_test_split(spec.name))
    # No value=: it starts at min_value, and a gallery button may set it through its key.
    index = int(st.number_input(f"Test sample by number (0 to {count - 1})", min_value=0,
                                max_value=count - 1, step=1, key=sample_key(spec), disabled=disabled))
    sample = victim_test_sample(spec.name, index)
    if disabled:
        st.caption("An upload is shown: remove it (×) to browse the test split.")
    elif sample.parts:  # a mosaic: every class it holds
        st.caption(f"{sample.name}, holds: {', '.join(spec.class_names[part.label] for part in sample.parts)}")
    else:
        st.caption(f"{sample.name}, true label: {true_label(spec, sample) or 'none (unlabelled)'}")
    return index, sample


def show_gallery(spec: VictimProfile, selected: int, disabled: bool) -> None:
    """Thumbnails of the first test samples, each with its true label and a button choosing it;
    the chosen one's button is highlighted (unless an upload is shown instead)."""
    thumbnails = gallery(spec.name)
    for index, (column, thumb) in enumerate(zip(st.columns(GALLERY_SIZE), thumbnails)):
        chosen = index == selected and not disabled
        with column:
            st.image(thumb.png)
            st.caption(thumb.label or thumb.name, wrap=False)  # one line each, so that the buttons line up
            # The button sets the picker's value in its callback, before the rerun draws the picker:
            # a widget's value cannot change once the widget is drawn.
            st.button(str(index), key=f"gallery_{spec.name}_{index}", on_click=_choose, args=(sample_key(spec), index),
                      type="primary" if chosen else "secondary", icon=":material/check:" if chosen else None,
                      width="stretch", disabled=disabled,
                      help=f"{thumb.name}: {thumb.label or 'unlabelled'}" + (" (shown)" if chosen else ""))


def _choose(key: str, index: int) -> None:
    st.session_state[key] = index


def true_label(spec: VictimProfile, sample: Sample) -> str | None:
    return spec.class_names[sample.y] if sample.y is not None else None


def run_buttons(start: DeltaGenerator, stop: DeltaGenerator, folder: Path, running: bool, *, label: str, key: str,
                launch: Callable[[], object], errors: type[Exception], where: str) -> None:
    """Start (``label``, in ``start``) and Stop (in ``stop``) for the background run in ``folder``,
    keyed ``KEY_start`` and ``KEY_stop``, then the caption ``where``. Start calls ``launch`` and
    shows an ``errors`` it raises; either button redraws the page, to show the run's new state."""
    if start.button(label, type="primary", key=f"{key}_start", disabled=running):
        try:
            launch()
        except errors as err:
            st.error(str(err))
        else:
            st.rerun()
    if stop.button("Stop", key=f"{key}_stop", disabled=not running):
        jobs.stop_worker(folder)
        st.rerun()
    st.caption(where)


def follow_run(folder: Path, page: str, nothing_yet: str) -> tuple[str, dict] | None:
    """The state of the run in ``folder`` (:func:`rlab_app.jobs.worker_state`), from the
    fragment that polls it: ``None``, after the caption ``nothing_yet``, when no run was started
    there. The whole page is redrawn, once, when the run stops running, since only the whole page
    shows the run's results."""
    status, progress = jobs.worker_state(folder)
    if progress is None:
        st.caption(nothing_yet)
        return None
    key = f"{page}_was_running_{folder.name}"  # what the last poll saw, per page and run
    if st.session_state.get(key) and status != "running":
        st.session_state[key] = False
        st.rerun(scope="app")
    st.session_state[key] = status == "running"
    return status, progress


def show_run_status(folder: Path, status: str, *, running: str, done: str, failed: str) -> None:
    """Where the run in ``folder`` is: ``running`` (a caption), ``done`` (a success), ``failed`` (an
    error), or else stopped (here, or its process ended), with the end of its log."""
    if status == "running":
        st.caption(running)
    elif status == "done":
        st.success(done)
    elif status == "failed":
        st.error(failed)
    else:
        st.warning("The run stopped before finishing (stopped here, or its process ended). Its log ends with:")
        st.code(jobs.log_tail(folder) or "(empty)")


class ProgressBar(Callback):
    """A computation's progress as a Streamlit bar: each message (a method's name, looked up in
    ``names``) as its text, the share of the phase's steps done as its length; gone when it ends."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = names or {}
        self.bar = st.progress(0.0, text="Starting…")
        self.done, self.total, self.text = 0, 1, "Starting…"

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        self.done, self.total = 0, max(1, total)
        self._draw()

    def on_message(self, message: str, warning: bool = False) -> None:
        if not warning:  # warnings are shown by the page, beside the result
            self.text = f"Running {self.names.get(message, message)}…"
            self._draw()

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def on_phase_end(self) -> None:
        self.bar.empty()

    def _draw(self) -> None:
        self.bar.progress(self.done / self.total, text=self.text)
