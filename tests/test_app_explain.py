"""The Explain page run headless by Streamlit's AppTest: maps, scores, and what it does without an agent or ground truth."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest import checked, open_app
from PIL import Image
from streamlit.testing.v1 import AppTest

from rlab_core.agents import agent as agents
from rlab_core.datasets import FashionMNIST
from rlab_core.victims import Victim, get_profile

torch.set_num_threads(1)

EXPLAIN_PAGE = "rlab_app/pages/explain.py"
NOTE = "white-box (they read the network's gradients)"


def explain_page(modality: str = "image", victim: str | None = None) -> AppTest:
    """The app switched to the Explain page, ``modality`` and ``victim`` (default: the modality's)."""
    at = open_app(EXPLAIN_PAGE, "Explain", modality, timeout=300)
    if victim is not None:
        checked(at.sidebar.selectbox(key=f"victim_{modality}").select(victim).run())
    return at


def explain(at: AppTest, victim: str, methods: list[str], budget: int = 20, sample: int = 1) -> AppTest:
    """Choose test ``sample``, ``methods`` and ``budget`` (offered only with an RL agent), then press Explain."""
    checked(at.number_input(key=f"sample_{victim}").set_value(sample).run())
    checked(at.multiselect(key=f"explain_methods_{victim}").set_value(methods).run())
    if not at.number_input(key="explain_budget").disabled:
        checked(at.number_input(key="explain_budget").set_value(budget).run())
    return checked(at.button(key="explain").click().run())


def score_table(at: AppTest):
    [table] = at.dataframe
    return table.value


def shows_note(at: AppTest) -> bool:
    return any(NOTE in c.value for c in at.caption)


def test_video_maps_are_scored_per_method() -> None:
    methods = ["rl", "saliency", "occlusion"]
    at = explain(explain_page("video"), "video-cnn", methods)
    table = score_table(at)
    assert list(table.columns) == ["method", "dice", "iou", "dice_at_rl_area", "pointing", "queries"]
    assert list(table["method"]) == methods
    assert table["dice"].between(0, 1).all()
    assert table.set_index("method")["queries"].isna().tolist() == [False, True, False]  # saliency is white-box
    assert shows_note(at)
    figure = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert figure["layout"]["coloraxis"]["cmax"] == 1  # one colour scale for every map
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert titles == ["RL (soft)", "Saliency", "Occlusion", "ground truth"]

    checked(at.slider(key="explain_frame").set_value(0).run())  # a new frame redraws, the result stays
    assert len(at.dataframe) == 1


def test_image_loc_cnn_gradients_are_scored() -> None:
    if not get_profile("image-loc-cnn").weights_path.exists():
        pytest.skip("image-loc-cnn is not trained yet")
    at = explain(explain_page("image", "image-loc-cnn"), "image-loc-cnn", ["saliency", "gradcam"])
    table = score_table(at)
    assert list(table["method"]) == ["saliency", "gradcam"]
    assert table["dice"].between(0, 1).all()


def test_without_an_agent_the_other_methods_run_and_are_scored(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setattr(agents, "AGENTS", tmp_path)  # no shipped agent for any victim
    at = explain_page("video")
    assert any(w.value.startswith("No RL agent for video-cnn yet") for w in at.warning)
    assert at.multiselect(key="explain_methods_video-cnn").value == ["saliency", "ig", "gradcam", "occlusion"]
    assert at.number_input(key="explain_budget").disabled
    at = explain(at, "video-cnn", ["saliency", "gradcam"])
    table = score_table(at)
    assert list(table["method"]) == ["saliency", "gradcam"]
    assert table["dice_at_rl_area"].isna().all()  # no RL area to compare at


def test_an_upload_is_explained_without_scores() -> None:
    image = io.BytesIO()
    Image.fromarray((FashionMNIST("test")[0].x[0].numpy() * 255).round().astype(np.uint8)).save(image, format="PNG")
    at = explain_page()
    checked(at.file_uploader(key="upload_image").set_value(("boot.png", image.getvalue(), "image/png")).run())
    checked(at.multiselect(key="explain_methods_image-cnn").set_value(["saliency"]).run())
    checked(at.button(key="explain").click().run())
    assert not at.dataframe
    assert any(i.value.startswith("No ground truth for boot.png") for i in at.info)
    assert shows_note(at)
    assert len(json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["annotations"]) == 1  # no truth panel


def test_your_onnx_model_is_explained_by_the_black_box_methods(tmp_path: Path) -> None:
    from test_onnx_model import export, fresh

    from rlab_core.explanations import BLACK_BOX
    from rlab_core.explanations import explain as explain_maps

    at = explain_page("ecg")
    checked(at.radio(key="weights_ecg-cnn").set_value("onnx").run())
    model = export(fresh("ecg-cnn"), tmp_path / "mine.onnx", get_profile("ecg-cnn").input_shape)
    checked(at.file_uploader(key="onnx_ecg-cnn").set_value(("mine.onnx", model.read_bytes(), "application/octet-stream"))
            .run())
    methods = at.multiselect(key="explain_methods_ecg-cnn_onnx")
    assert methods.value == list(BLACK_BOX) and set(methods.options) == {"RL (soft)", "RL (hard)", "Occlusion"}
    checked(at.number_input(key="explain_budget").set_value(30).run())
    checked(at.button(key="explain").click().run())

    request, explanation = at.session_state["explain_run"]
    assert request.weights == "onnx" and list(explanation.maps) == list(BLACK_BOX)
    # The exported network gives the maps of the shipped one.
    sample = get_profile("ecg-cnn").dataset("test")[0]
    shipped = explain_maps(Victim.builtin("ecg-cnn"), sample.x, None, BLACK_BOX, budget=30)
    for name in BLACK_BOX:
        torch.testing.assert_close(explanation.maps[name].values, shipped.maps[name].values, atol=1e-4, rtol=0)
