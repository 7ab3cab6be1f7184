"""Uploads: every good format converts, every bad input raises one InputError with a clear message."""
from __future__ import annotations

import io

import av
import neurokit2 as nk
import numpy as np
import pytest
from PIL import Image

from rlab_core.decode import InputError
from rlab_core.io import load_input
from rlab_core.victims import get_profile

ECG = get_profile("ecg-cnn")
IMAGE = get_profile("image-cnn")
IMAGENET = get_profile("imagenet-efficientnet-lite0")
VIDEO = get_profile("video-cnn")
FRAMES = get_profile("video-imagenet-frames")


def png_bytes(array: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format=fmt)
    return buffer.getvalue()


def mp4_bytes(frames: int = 20, size: tuple[int, int] = (64, 48), codec: str = "mpeg4", fmt: str = "mp4") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(frames):
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    return nk.ecg_simulate(duration=10, sampling_rate=250, heart_rate=70, random_state=3)


def csv_bytes(rows: list[list], header: list[str] | None = None, sep: str = ",") -> bytes:
    lines = [sep.join(header)] if header else []
    lines += [sep.join(str(v) for v in row) for row in rows]
    return "\n".join(lines).encode()


# ---------------------------------------------------------------------------------------- ECG

def test_single_beat_csv_without_header_needs_no_sampling_rate() -> None:
    beat = np.sin(np.linspace(0, 6, 140))
    loaded = load_input(csv_bytes([[v] for v in beat]), "beat.csv", ECG)
    assert loaded.sample.x.shape == (1, 140)
    assert float(loaded.sample.x.min()) == 0.0 and float(loaded.sample.x.max()) == 1.0


def test_recording_with_time_column_and_header_is_cut_into_beats(recording) -> None:
    t = np.arange(len(recording)) / 250
    loaded = load_input(csv_bytes([[a, b] for a, b in zip(t, recording)], header=["time", "ecg"]), "rec.csv", ECG, beat=2)
    assert loaded.fs == pytest.approx(250, rel=1e-3)
    assert 9 <= len(loaded.beats) <= 12  # 70 bpm over 10 s
    assert loaded.sample.x.shape == (1, 140)


def test_time_column_in_milliseconds(recording) -> None:
    t = np.arange(len(recording)) * 4.0  # 250 Hz in ms
    loaded = load_input(csv_bytes([[a, b] for a, b in zip(t, recording)], header=["time_ms", "ii"]), "rec.csv", ECG)
    assert loaded.fs == pytest.approx(250, rel=1e-3)


def test_several_leads_use_the_first_with_a_notice(recording) -> None:
    rows = [[a, -a, 0.5 * a] for a in recording]
    loaded = load_input(csv_bytes(rows, sep=";"), "leads.csv", ECG, fs=250)
    assert loaded.recording.shape == (3, len(recording))
    assert any("lead 1" in notice for notice in loaded.sample.notices)


def test_npy_recording_in_either_orientation(recording) -> None:
    for array in (recording, recording[None, :], np.stack([recording, recording], axis=1)):
        buffer = io.BytesIO()
        np.save(buffer, array)
        loaded = load_input(buffer.getvalue(), "rec.npy", ECG, fs=250)
        assert loaded.recording.shape[1] == len(recording)


def test_a_normal_simulated_recording_is_classified_normal(recording) -> None:
    from rlab_core.victims import Victim

    loaded = load_input(csv_bytes([[v] for v in recording]), "rec.csv", ECG, fs=250, beat=3)
    probs = Victim.builtin("ecg-cnn").probabilities(loaded.sample.x)
    assert ECG.class_names[int(probs.argmax())] == "Normal"


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


BAD_ECG = {
    "empty": (b"", "rec.csv", {}, "empty"),
    "text where numbers belong": (b"1.0\n2.0\nabc\n4.0\n", "rec.csv", {}, "'abc' is not a number"),
    "nan": (csv_bytes([[v] for v in [0.1] * 70 + ["nan"] + [0.2] * 69]), "rec.csv", {}, "NaN or infinite"),
    "infinite": (csv_bytes([[v] for v in [0.1] * 70 + ["inf"] + [0.2] * 69]), "rec.csv", {}, "NaN or infinite"),
    "too short to be a beat": (csv_bytes([[v] for v in np.random.default_rng(0).normal(size=50)]), "rec.csv",
                               {"fs": 250.0}, "no complete heartbeat"),
    "long without a sampling rate": (csv_bytes([[v] for v in np.zeros(1000)]), "rec.csv", {}, "sampling rate"),
    "ragged rows": (b"1,2\n3,4\n5\n", "rec.csv", {}, "row 3 has 1 values"),
    "header only": (b"time,ecg\n", "rec.csv", {}, "no numbers"),
    "binary junk as csv": (bytes(range(256)) * 4, "rec.csv", {}, "not a text CSV"),
    "pickled object array": (npy_bytes(np.array([{"a": 1}], dtype=object)), "rec.npy", {}, "never unpickled"),
    "truncated npy": (npy_bytes(np.zeros(1000))[:90], "rec.npy", {}, "npy"),
    "3d array": (npy_bytes(np.zeros((2, 3, 140))), "rec.npy", {}, "must be 1D"),
    "strings in npy": (npy_bytes(np.array(["a", "b"])), "rec.npy", {}, "real numbers"),
    "wrong extension": (b"1\n2\n", "rec.png", {}, "not an accepted ecg file type"),
    "implausible sampling rate": (csv_bytes([[v] for v in np.zeros(1000)]), "rec.csv", {"fs": 1.0}, "implausible"),
    "beat out of range": (csv_bytes([[v] for v in np.sin(np.linspace(0, 6, 140))]), "rec.csv", {"beat": 5},
                          "beat 5 does not exist"),
    "flat line": (csv_bytes([[0.0]] * 140), "rec.csv", {}, "flat line"),
}


@pytest.mark.parametrize("case", sorted(BAD_ECG))
def test_bad_ecg_inputs_raise_one_clear_error(case: str) -> None:
    data, name, kwargs, message = BAD_ECG[case]
    with pytest.raises(InputError, match=message):
        load_input(data, name, ECG, **kwargs)


# --------------------------------------------------------------------------------------- images

@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("GIF", ".gif"), ("BMP", ".bmp"), ("WEBP", ".webp")])
def test_every_image_format_loads(fmt: str, suffix: str) -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    loaded = load_input(png_bytes(pixels, fmt=fmt), f"x{suffix}", IMAGENET)
    assert loaded.sample.x.shape == (3, 224, 224)
    assert 0.0 <= float(loaded.sample.x.min()) and float(loaded.sample.x.max()) <= 1.0
    assert any("upscaled" in notice for notice in loaded.sample.notices)


def test_grayscale_rgba_and_16_bit_convert_sensibly() -> None:
    gray = load_input(png_bytes(np.full((28, 28), 255, np.uint8)), "g.png", IMAGENET).sample.x
    assert gray.shape == (3, 224, 224) and float(gray.min()) == pytest.approx(1.0)
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 0  # fully transparent red
    loaded = load_input(png_bytes(rgba), "a.png", IMAGE)
    assert float(loaded.sample.x.max()) == 0.0 and any("transparent" in n for n in loaded.sample.notices)
    deep = np.full((30, 30), 65535 // 2, np.uint16)
    half = load_input(png_bytes(deep), "d.png", IMAGE).sample.x
    assert float(half.mean()) == pytest.approx(0.5, abs=0.01)


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.fromarray(np.full((30, 30), v, np.uint8)) for v in (255, 0)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    loaded = load_input(buffer.getvalue(), "a.gif", IMAGE)
    assert float(loaded.sample.x.mean()) > 0.9 and any("first frame" in n for n in loaded.sample.notices)


def test_large_image_is_downscaled_and_huge_one_refused() -> None:
    big = load_input(png_bytes(np.zeros((3000, 2500), np.uint8), fmt="JPEG"), "big.jpg", IMAGE)
    assert any("downscaled" in n for n in big.sample.notices)
    huge = png_bytes(np.zeros((1, 1), np.uint8))
    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, format="PNG")  # 81 megapixels that compress to a few KB
    with pytest.raises(InputError, match="too large"):
        load_input(buffer.getvalue(), "bomb.png", IMAGE)
    assert huge


BAD_IMAGES = {
    "empty": (b"", "x.png", "empty"),
    "truncated": (png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))[:400], "x.png",
                  "truncated or corrupt"),
    "text with an image extension": (b"time,ecg\n0,1\n", "x.png", "not a readable image"),
    "wrong extension": (png_bytes(np.zeros((8, 8), np.uint8)), "x.txt", "not an accepted image file type"),
    "no extension": (png_bytes(np.zeros((8, 8), np.uint8)), "x", "no extension"),
    "too large a file": (b"\x89PNG" + bytes(31 * 2**20), "x.png", "limit for image"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_images_raise_one_clear_error(case: str) -> None:
    data, name, message = BAD_IMAGES[case]
    with pytest.raises(InputError, match=message):
        load_input(data, name, IMAGE)


# ---------------------------------------------------------------------------------------- video

@pytest.mark.parametrize("fmt,codec,suffix", [("mp4", "mpeg4", ".mp4"), ("avi", "mpeg4", ".avi"), ("webm", "libvpx", ".webm")])
def test_video_formats_load_and_sample_the_victims_frames(fmt: str, codec: str, suffix: str) -> None:
    loaded = load_input(mp4_bytes(frames=20, codec=codec, fmt=fmt), f"clip{suffix}", VIDEO)
    assert loaded.sample.x.shape == (1, 16, 64, 64)
    assert 0.0 <= float(loaded.sample.x.min()) and float(loaded.sample.x.max()) <= 1.0


def test_short_clip_repeats_frames_with_a_notice() -> None:
    loaded = load_input(mp4_bytes(frames=3), "short.mp4", FRAMES)
    assert loaded.sample.x.shape == (3, 8, 224, 224)
    assert any("repeated" in n for n in loaded.sample.notices)


BAD_VIDEOS = {
    "empty": (b"", "x.mp4", "empty"),
    "truncated": (mp4_bytes()[:300], "x.mp4", "not a readable video|no frames"),
    "image posing as video": (png_bytes(np.zeros((8, 8), np.uint8)), "x.mp4", "still image"),
    "wrong extension": (b"....", "x.gif", "not an accepted video file type"),
    "random bytes": (np.random.default_rng(1).bytes(5000), "x.webm", "not a readable video"),
}


@pytest.mark.parametrize("case", sorted(BAD_VIDEOS))
def test_bad_videos_raise_one_clear_error(case: str) -> None:
    data, name, message = BAD_VIDEOS[case]
    with pytest.raises(InputError, match=message):
        load_input(data, name, VIDEO)
