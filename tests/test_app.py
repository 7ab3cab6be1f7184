"""The app run headless by Streamlit's AppTest: what each page shows, and how it reacts to its widgets."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import neurokit2 as nk
import numpy as np
import pytest
import torch
from apptest import checked, open_app
from PIL import Image
from streamlit.testing.v1 import AppTest

from rlab_app.figures.inputs import thumbnail
from rlab_app.state import victims as app_victims
from rlab_core.datasets import FashionMNIST
from rlab_core.victims import Victim, get_profile, profiles
from rlab_core.victims import victim as victim_module

torch.set_num_threads(1)

FASHION = FashionMNIST.class_names


def start(modality: str = "image") -> AppTest:
    """The app after its first run, switched to ``modality``."""
    return open_app(modality=modality)


def top1(at: AppTest) -> str:
    """The top-1 class name the page states, e.g. ``Top-1: **Sneaker** (97.1%)``."""
    found = [m for m in (re.fullmatch(r"Top-1: \*\*(.+)\*\* \([\d.]+%\)", md.value) for md in at.markdown) if m]
    assert len(found) == 1, [md.value for md in at.markdown]
    return found[0].group(1)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def bar_names(at: AppTest) -> list[str]:
    bars = [fig["data"][0] for fig in figures(at) if fig["data"][0]["type"] == "bar"]
    assert len(bars) == 1
    return bars[0]["y"]


def headings(at: AppTest) -> list[str]:
    return [heading.value for heading in at.subheader]


def gallery_buttons(at: AppTest, victim: str) -> list:
    return [b for b in at.button if b.key and b.key.startswith(f"gallery_{victim}_")]


def highlighted(at: AppTest, victim: str) -> list[str]:
    """The keys of the gallery's highlighted (primary) buttons: the sample shown."""
    return [b.key for b in gallery_buttons(at, victim) if b.proto.type == "primary"]


def png(x: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((x * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def no_cached_models() -> Iterator[None]:
    """Forget loaded models before and after, for a test that hides the weights."""
    victim_module._shipped_network.cache_clear()
    app_victims._builtin_victim.clear()
    yield
    victim_module._shipped_network.cache_clear()
    app_victims._builtin_victim.clear()


def test_default_page_predicts_sample_0_of_image_cnn() -> None:
    at = start()
    assert at.sidebar.selectbox(key="modality").value == "image"
    assert at.sidebar.selectbox(key="victim_image").value == "image-cnn"
    assert at.number_input(key="sample_image-cnn").value == 0
    assert "Fashion-MNIST test 0" in headings(at)
    assert "True label: **Ankle boot** (correct)" in [md.value for md in at.markdown]
    names = bar_names(at)
    assert len(names) == 5 and names[0] == top1(at) == "Ankle boot"
    assert any("black box" in caption.value for caption in at.caption)
    assert not at.error


def test_choosing_another_sample_changes_what_is_shown() -> None:
    at = start()
    image_before = figures(at)[0]["data"][0]["z"]
    checked(at.number_input(key="sample_image-cnn").set_value(1).run())
    assert "Fashion-MNIST test 1" in headings(at)
    assert any(md.value.startswith("True label: **Pullover**") for md in at.markdown)
    assert figures(at)[0]["data"][0]["z"] != image_before


@pytest.mark.parametrize(("modality", "victim", "heading", "trace"), [
    ("ecg", "ecg-cnn", "ECG5000 beat 714", "scatter"),
    ("video", "video-cnn", "moving digit test 0", "heatmap"),
])
def test_switching_modality_shows_its_default_victim(modality: str, victim: str, heading: str, trace: str) -> None:
    at = start(modality)
    assert at.sidebar.selectbox(key=f"victim_{modality}").value == victim
    assert heading in headings(at)
    drawn = figures(at)[0]
    assert drawn["data"][0]["type"] == trace
    if modality == "video":
        assert len(drawn["frames"]) == get_profile(victim).input_shape[1]  # one animation frame per video frame
    assert top1(at) in get_profile(victim).class_names
    assert bar_names(at)[0] == top1(at)


def test_unlabelled_photo_for_the_imagenet_victim() -> None:
    at = start()
    checked(at.sidebar.selectbox(key="victim_image").select("imagenet-efficientnet-lite0").run())
    assert "chelsea" in headings(at)  # the first test photo
    assert "No true label: the victim's top-1 stands in for it." in [md.value for md in at.markdown]
    assert figures(at)[0]["data"][0]["type"] == "image"  # RGB, drawn as it is
    assert top1(at) in get_profile("imagenet-efficientnet-lite0").class_names


def test_gallery_shows_the_first_test_samples_and_a_button_chooses_one() -> None:
    at = start()
    assert len(at.get("image")) == 8 and len(gallery_buttons(at, "image-cnn")) == 8
    labels = [FASHION[FashionMNIST("test")[i].y] for i in range(8)]
    assert [c.value for c in at.caption if c.value in FASHION] == labels  # each thumbnail's true label
    assert highlighted(at, "image-cnn") == ["gallery_image-cnn_0"]

    checked(at.button(key="gallery_image-cnn_3").click().run())
    assert at.number_input(key="sample_image-cnn").value == 3  # the picker follows
    assert "Fashion-MNIST test 3" in headings(at)
    assert "True label: **Trouser** (correct)" in [md.value for md in at.markdown]
    assert highlighted(at, "image-cnn") == ["gallery_image-cnn_3"]

    checked(at.number_input(key="sample_image-cnn").set_value(12).run())  # beyond the gallery
    assert "Fashion-MNIST test 12" in headings(at)
    assert not highlighted(at, "image-cnn")
    checked(at.button(key="gallery_image-cnn_1").click().run())  # and back
    assert at.number_input(key="sample_image-cnn").value == 1
    assert "Fashion-MNIST test 1" in headings(at)


@pytest.mark.parametrize(("modality", "victim"), [("ecg", "ecg-cnn"), ("video", "video-cnn")])
def test_gallery_of_beats_and_clips(modality: str, victim: str) -> None:
    at = start(modality)
    assert len(at.get("image")) == 8
    checked(at.button(key=f"gallery_{victim}_2").click().run())
    assert at.number_input(key=f"sample_{victim}").value == 2
    assert get_profile(victim).dataset("test")[2].name in headings(at)
    assert highlighted(at, victim) == [f"gallery_{victim}_2"]


@pytest.mark.parametrize(("shape", "size"), [((1, 28, 28), (96, 96)), ((1, 140), (96, 64)),
                                             ((3, 224, 224), (96, 96)), ((3, 8, 224, 224), (96, 96)),
                                             ((1, 16, 64, 64), (96, 96))])
def test_thumbnails_are_small_pictures(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    thumb = Image.open(io.BytesIO(thumbnail(torch.rand(shape))))
    assert thumb.size == size


def test_gallery_of_a_short_split_of_clips() -> None:
    thumbnails = app_victims.gallery("video-imagenet-frames")  # two 3x8x224x224 clips, unlabelled
    assert [t.label for t in thumbnails] == [None, None]
    assert all(Image.open(io.BytesIO(t.png)).size == (96, 96) for t in thumbnails)


def test_gallery_on_the_attack_page() -> None:
    at = start()
    checked(at.switch_page("rlab_app/pages/attack.py").run())
    checked(at.button(key="gallery_image-cnn_1").click().run())
    assert at.number_input(key="sample_image-cnn").value == 1
    assert "Fashion-MNIST test 1, true label: Pullover" in [c.value for c in at.caption]
    assert highlighted(at, "image-cnn") == ["gallery_image-cnn_1"]


def test_bad_upload_is_reported_and_the_gallery_keeps_working() -> None:
    at = start()
    checked(at.file_uploader(key="upload_image").set_value(("broken.png", b"not an image", "image/png")).run())
    assert len(at.error) == 1 and at.error[0].value.startswith("broken.png: not a readable image")
    assert "Fashion-MNIST test 0" in headings(at)
    checked(at.number_input(key="sample_image-cnn").set_value(2).run())
    assert "Fashion-MNIST test 2" in headings(at)
    assert top1(at) in FASHION


def test_uploaded_image_is_shown_and_predicted() -> None:
    at = start()
    image = png(FashionMNIST("test")[0].x[0].numpy())
    checked(at.file_uploader(key="upload_image").set_value(("boot.png", image, "image/png")).run())
    assert "boot.png" in headings(at)
    assert "No true label: the victim's top-1 stands in for it." in [md.value for md in at.markdown]
    assert top1(at) in FASHION
    assert at.number_input(key="sample_image-cnn").disabled  # the upload, not the test sample, is shown
    assert all(b.disabled for b in gallery_buttons(at, "image-cnn")) and not highlighted(at, "image-cnn")


def test_ecg_recording_needs_a_rate_then_offers_its_beats() -> None:
    at = start("ecg")
    signal = nk.ecg_simulate(duration=8, sampling_rate=250, heart_rate=70, random_state=0)
    csv = "\n".join(f"{value:.5f}" for value in signal).encode()
    checked(at.file_uploader(key="upload_ecg").set_value(("walk.csv", csv, "text/csv")).run())
    assert "give the sampling rate" in at.error[0].value
    checked(at.number_input(key="ecg_fs").set_value(250.0).run())
    assert not at.error
    beat = at.slider[0]
    assert beat.max >= 5  # about 9 beats in 8 s at 70 per minute
    checked(beat.set_value(3).run())
    assert "walk.csv beat 3" in headings(at)
    recording = next(fig for fig in figures(at) if fig["data"][-1].get("name") == "lead 1")
    assert recording["data"][1]["name"] == "beat 3"  # the chosen beat's window is the highlighted band


def test_missing_weights_are_reported_and_the_input_still_shown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                 no_cached_models: None) -> None:
    monkeypatch.setattr(profiles, "WEIGHTS", tmp_path)
    at = start()
    assert "no weights for image-cnn" in at.error[0].value
    assert "Fashion-MNIST test 0" in headings(at)
    assert not at.markdown  # no prediction is claimed


def test_the_answer_of_the_hardened_weights_and_of_your_onnx_model(tmp_path: Path) -> None:
    from test_onnx_model import export, fresh

    at = start("ecg")
    sample = get_profile("ecg-cnn").dataset("test")[0]
    shipped = at.markdown[[md.value.startswith("Top-1:") for md in at.markdown].index(True)].value
    checked(at.radio(key="weights_ecg-cnn").set_value("hardened").run())
    hardened = Victim.builtin("ecg-cnn", "hardened").probabilities(sample.x).max()
    assert any(md.value.endswith(f"({hardened:.1%})") for md in at.markdown if md.value.startswith("Top-1:"))

    checked(at.radio(key="weights_ecg-cnn").set_value("onnx").run())
    assert any(i.value.startswith("Upload an .onnx model") for i in at.info)
    checked(at.file_uploader(key="onnx_ecg-cnn").set_value(("mine.onnx", b"not a model", "application/octet-stream"))
            .run())
    assert [e.value.split(":")[0] for e in at.error] == ["mine.onnx is not an ONNX model ONNX Runtime can run"]
    model = export(fresh("ecg-cnn"), tmp_path / "mine.onnx", get_profile("ecg-cnn").input_shape)
    checked(at.file_uploader(key="onnx_ecg-cnn").set_value(("mine.onnx", model.read_bytes(), "application/octet-stream"))
            .run())
    assert not at.error
    assert [md.value for md in at.markdown if md.value.startswith("Top-1:")] == [shipped]  # it is the shipped network


def test_a_hostile_upload_shows_its_message_and_the_page_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import hostile

    monkeypatch.setenv("RLAB_MODEL_CAP_SECONDS", "2")
    at = start("image")
    shipped = [md.value for md in at.markdown if md.value.startswith("Top-1:")]
    checked(at.radio(key="weights_image-cnn").set_value("onnx").run())
    for name, model, message in (
            ("reads.onnx", hostile.reads_top_level("assets/victims/image-cnn.pt"), "keeps weights outside the file"),
            ("never.onnx", hostile.never_answers(), "took longer than 2 s to answer 2 inputs")):
        checked(at.file_uploader(key="onnx_image-cnn").set_value((name, model.SerializeToString(),
                                                                   "application/octet-stream")).run())
        assert [message in e.value for e in at.error] == [True], [e.value for e in at.error]
        assert not any(md.value.startswith("Top-1:") for md in at.markdown)
    honest = hostile.honest().SerializeToString()
    checked(at.file_uploader(key="onnx_image-cnn").set_value(("honest.onnx", honest, "application/octet-stream")).run())
    assert not at.error and [md.value for md in at.markdown if md.value.startswith("Top-1:")] != shipped
    checked(at.radio(key="weights_image-cnn").set_value("shipped").run())
    assert [md.value for md in at.markdown if md.value.startswith("Top-1:")] == shipped
