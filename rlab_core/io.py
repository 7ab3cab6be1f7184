"""Reading uploads into victim inputs, where every bad file becomes one clear :class:`InputError`.

Used by the CLI and the app alike: the file's type and size are checked here, the bytes decoded by
:mod:`rlab_core.decode`, and the result fitted to the victim's input (an ECG cut into beats).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from rlab_core.convert import (
    fit_frames,
    fit_image,
    resample_signal,
    sample_frame_indices,
    scale_to_unit,
)
from rlab_core.decode import (
    ECG_FS_RANGE,
    MAX_ECG_LEADS,
    MAX_ECG_SAMPLES,
    InputError,
    read_ecg_table,
    read_image,
    read_video,
)
from rlab_core.sample import Sample

if TYPE_CHECKING:
    from rlab_core.victims import Victim, VictimProfile

ECG_SUFFIXES = (".csv", ".txt", ".npy")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv")
SUFFIXES = {"ecg": ECG_SUFFIXES, "image": IMAGE_SUFFIXES, "video": VIDEO_SUFFIXES}
MAX_BYTES = {"ecg": 20 * 2**20, "image": 30 * 2**20, "video": 200 * 2**20}


@dataclass(frozen=True)
class LoadedInput:
    """An upload converted for one victim. ECG uploads also keep the whole recording and its beats."""

    sample: Sample
    recording: np.ndarray | None = None  # ECG: (leads, time) in the file's units
    fs: float | None = None
    beats: list[tuple[int, int]] = field(default_factory=list)  # ECG: (start, stop) of every beat found


def check_file(data: bytes, filename: str, modality: str) -> str:
    """Refuse empty, oversized or wrongly named files early; return the lower-case suffix."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES[modality]:
        allowed = ", ".join(SUFFIXES[modality])
        raise InputError(f"{filename}: '{suffix or 'no extension'}' is not an accepted {modality} file type; use {allowed}")
    if len(data) == 0:
        raise InputError(f"{filename}: the file is empty")
    if len(data) > MAX_BYTES[modality]:
        raise InputError(f"{filename}: the file is {len(data) / 2**20:.0f} MB; the limit for {modality} is "
                         f"{MAX_BYTES[modality] // 2**20} MB")
    return suffix


def load_input(data: bytes, filename: str, victim: Victim | VictimProfile, *, fs: float | None = None,
               beat: int = 0) -> LoadedInput:
    """Turn the bytes of an uploaded file into an input for ``victim``."""
    suffix = check_file(data, filename, victim.modality)
    if victim.modality == "ecg":
        return _load_ecg(data, filename, suffix, victim, fs, beat)
    if victim.modality == "image":
        pixels, notices = read_image(data, filename)
        x = fit_image(pixels, cast(tuple[int, int, int], victim.input_shape))  # an image victim's (C, H, W)
        if min(pixels.shape[:2]) < min(victim.input_shape[1:]):
            notices.append(f"small image ({pixels.shape[1]}x{pixels.shape[0]}): upscaled to "
                           f"{victim.input_shape[2]}x{victim.input_shape[1]}")
        return LoadedInput(Sample(x, None, filename, notices=tuple(notices)))
    frames, notices = read_video(data, filename)
    channels, length, height, width = victim.input_shape
    x = fit_frames(frames[sample_frame_indices(len(frames), length)], channels, height, width)
    if len(frames) < length:
        notices.append(f"short clip ({len(frames)} frames): frames repeated to make {length}")
    return LoadedInput(Sample(x, None, filename, notices=tuple(notices)))


# ----------------------------------------------------------------------------------------- ECG

def find_beats(lead: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """One window per heartbeat: from halfway to the previous R peak to halfway to the next."""
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = nk.ecg_clean(lead, sampling_rate=fs)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    except Exception:  # noqa: BLE001  (neurokit2 raises assorted errors on signals it cannot read)
        return []
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    if len(peaks) < 2:
        return []
    intervals = np.diff(peaks)
    before = np.concatenate([intervals[:1], intervals]) // 2
    after = np.concatenate([intervals, intervals[-1:]]) // 2
    return [(int(p - b), int(p + a)) for p, b, a in zip(peaks, before, after) if p - b >= 0 and p + a <= len(lead)]


def _load_ecg(data: bytes, filename: str, suffix: str, victim: Victim | VictimProfile, fs: float | None,
              beat: int) -> LoadedInput:
    signal, fs_from_file = read_ecg_table(data, filename, suffix)
    leads, length = signal.shape
    if not np.all(np.isfinite(signal)):
        bad = np.argwhere(~np.isfinite(signal))[0]
        raise InputError(f"{filename}: the recording holds NaN or infinite values (first at lead {bad[0] + 1}, sample {bad[1]})")
    if leads > MAX_ECG_LEADS or length > MAX_ECG_SAMPLES:
        raise InputError(f"{filename}: {leads} leads x {length} samples is too large (limits: {MAX_ECG_LEADS} leads, "
                         f"{MAX_ECG_SAMPLES:,} samples)")
    if fs is not None and not ECG_FS_RANGE[0] <= fs <= ECG_FS_RANGE[1]:
        raise InputError(f"sampling rate {fs:g} Hz is implausible for an ECG; expected "
                         f"{ECG_FS_RANGE[0]:g}-{ECG_FS_RANGE[1]:g} Hz")
    fs = fs or fs_from_file
    notices = [f"{leads} leads: the victim reads one, so lead 1 is used"] if leads > 1 else []
    beat_length = victim.input_shape[-1]
    if length == beat_length:  # already one beat at the victim's length, like ECG5000's own
        beats = [(0, length)]
    elif fs is None:
        raise InputError(f"{filename}: {length} samples is not a single {beat_length}-sample beat, and the file has no "
                         f"time column: give the sampling rate (--fs HZ, or the field in the app)")
    else:
        beats = find_beats(signal[0], fs)
        if not beats:
            raise InputError(f"{filename}: no complete heartbeat found in {length / fs:.1f} s at {fs:g} Hz; the "
                             f"recording is too short, too noisy, or the sampling rate is wrong")
    if not 0 <= beat < len(beats):
        raise InputError(f"beat {beat} does not exist: the recording has {len(beats)} beat(s), numbered 0-{len(beats) - 1}")
    start, stop = beats[beat]
    window = signal[:1, start:stop]
    std = window.std()
    if std == 0:
        raise InputError(f"{filename}: beat {beat} is a flat line; there is no heartbeat to classify")
    # ECG5000 beats are z-normalised and resampled to 140 samples: do the same, then scale to [0, 1].
    x, scale = scale_to_unit(resample_signal((window - window.mean()) / std, beat_length))
    sample = Sample(torch.from_numpy(x), None, f"{filename} beat {beat}", scale=scale, notices=tuple(notices))
    return LoadedInput(sample, recording=signal, fs=fs, beats=beats)
