"""Data bombs: files that declare far more than they hold are refused, or cut, without a hang.

How fast and how lean each is refused is measured in benchmarks/reliability.md (a couple of seconds
at most, alone on the machine); the bound here only tells a refusal from a hang on a busy machine."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from numpy.lib import format as npy

from benchmarks import hostile
from rlab_core.decode import MAX_VIDEO_DECODED_PIXELS, InputError, read_image, read_video
from rlab_core.io import load_input
from rlab_core.victims import get_profile

SECONDS = 20.0


def timed(call, *args):
    started = time.perf_counter()
    try:
        return call(*args), time.perf_counter() - started
    except InputError as err:
        return err, time.perf_counter() - started


def test_a_png_that_declares_50000_by_50000_pixels_is_refused() -> None:
    outcome, seconds = timed(read_image, hostile.png_declaring(50_000, 50_000), "bomb.png")
    assert isinstance(outcome, InputError) and "too many pixels" in str(outcome) and seconds < SECONDS
    outcome, _ = timed(read_image, hostile.png_declaring(8_000, 8_000), "bomb.png")
    assert isinstance(outcome, InputError) and "8000x8000 pixels is too large" in str(outcome)


def test_a_gif_of_10000_frames_is_read_from_its_first_frame_only() -> None:
    (pixels, notices), seconds = timed(read_image, hostile.gif_of_frames(10_000), "bomb.gif")
    assert pixels.shape == (8, 8, 3) and notices == ["animated image: its first frame is used"] and seconds < SECONDS


def test_an_mp4_that_declares_a_huge_frame_is_refused_before_decoding() -> None:
    outcome, seconds = timed(read_video, hostile.mp4_declaring(4_200, 4_200), "bomb.mp4")
    assert isinstance(outcome, InputError) and "4200x4200 is too large" in str(outcome) and seconds < SECONDS


@pytest.mark.slow
def test_a_long_clip_is_cut_at_the_decoding_budget() -> None:
    clip = hostile.mp4_declaring(1280, 720, 300)  # 276 Mpx, past the budget
    (frames, notices), seconds = timed(read_video, clip, "long.mp4")
    cut = MAX_VIDEO_DECODED_PIXELS // (1280 * 720)
    assert frames.dtype == np.uint8 and len(frames) == cut
    assert notices == [f"long clip: only its first {cut} frames are used"]
    assert seconds < SECONDS and frames.nbytes < 100 * 2**20
    loaded = load_input(clip, "long.mp4", get_profile("video-cnn"))
    assert loaded.sample.x.shape == get_profile("video-cnn").input_shape


def test_an_npy_that_declares_a_huge_array_is_refused_before_numpy_allocates_it() -> None:
    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    outcome, seconds = timed(load_input, out.getvalue() + b"\0" * 64, "bomb.npy", get_profile("ecg-cnn"))
    assert isinstance(outcome, InputError) and "declares 100,000,000,000 values" in str(outcome) and seconds < SECONDS
