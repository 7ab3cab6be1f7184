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
    assert list(table.columns) == ["method", "access", "dice", "iou", "dice_at_rl_area", "pointing", "queries"]
    assert list(table["method"]) == methods
    assert list(table["access"]) == ["black-box", "white-box", "black-box"]
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
    methods = at.multiselect(key="explain_methods_video-cnn")
    assert methods.value == ["saliency", "ig", "gradcam", "occlusion", "model_free", "edges", "random",
                             "model_free_in_cell"]
    assert not {"RL (soft)", "RL (hard)"} & set(methods.options)
    assert at.number_input(key="explain_budget").disabled  # none of the default methods spends a budget
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
    assert any(i.value.startswith("No ground truth for ") and " in boot.png" in i.value for i in at.info)
    assert shows_note(at)
    assert len(json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["annotations"]) == 1  # no truth panel


def test_your_onnx_model_is_explained_by_the_black_box_methods(tmp_path: Path) -> None:
    from test_onnx_model import export, fresh

    from rlab_core.explanations import BLACK_BOX, MODEL_FREE
    from rlab_core.explanations import explain as explain_maps

    at = explain_page("ecg")
    checked(at.radio(key="weights_ecg-cnn").set_value("onnx").run())
    model = export(fresh("ecg-cnn"), tmp_path / "mine.onnx", get_profile("ecg-cnn").input_shape)
    checked(at.file_uploader(key="onnx_ecg-cnn").set_value(("mine.onnx", model.read_bytes(), "application/octet-stream"))
            .run())
    methods = at.multiselect(key="explain_methods_ecg-cnn_onnx")
    assert methods.value == [*BLACK_BOX, *MODEL_FREE]  # ECG5000's beats have no ground-truth region
    assert not {"Saliency", "Integrated Gradients", "Grad-CAM"} & set(methods.options)
    assert {"RL (soft)", "LIME", "RISE", "control: random"} <= set(methods.options)
    checked(methods.set_value(list(BLACK_BOX)).run())
    checked(at.number_input(key="explain_budget").set_value(30).run())
    checked(at.button(key="explain").click().run())

    request, explanation = at.session_state["explain_run"]
    assert request.weights == "onnx" and list(explanation.maps) == list(BLACK_BOX)
    # The exported network gives the maps of the shipped one.
    sample = get_profile("ecg-cnn").dataset("test")[0]
    shipped = explain_maps(Victim.builtin("ecg-cnn"), sample.x, None, BLACK_BOX, budget=30)
    for name in BLACK_BOX:
        torch.testing.assert_close(explanation.maps[name].values, shipped.maps[name].values, atol=1e-4, rtol=0)


def test_each_class_of_a_mosaic_is_explained_and_scored_against_its_own_cell() -> None:
    victim = "image-grid-cnn"
    sample = get_profile(victim).dataset("test")[1]
    at = explain_page("image", victim)
    checked(at.number_input(key=f"sample_{victim}").set_value(1).run())
    picker = at.selectbox(key=f"explain_class_{victim}_{sample.name}")
    present = [part.label for part in sample.parts]
    assert sum(", in the input" in option for option in picker.options) == 4
    explained = next(label for label in present if label != picker.value)  # a class other than the top-1
    checked(picker.set_value(explained).run())
    at = explain(at, victim, ["gradcam", "model_free", "random", "model_free_in_cell"], sample=1)
    request, explanation = at.session_state["explain_run"]
    assert request.target == explanation.label == explained
    table = score_table(at).set_index("method")
    assert list(table.columns) == ["access", "dice", "iou", "gridpg", "dice_at_rl_area", "pointing", "queries"]
    assert list(table["access"]) == ["white-box", "control", "control", "control, reads the ground truth"]
    assert table["queries"].tolist()[1:] == [0, 0, 0]
    assert table.loc["model_free_in_cell", "gridpg"] == pytest.approx(1.0)  # all of it inside the class's cell
    assert table.loc["random", "gridpg"] == pytest.approx(0.25, abs=0.1)  # a quarter of a random map, by chance

    picker = at.selectbox(key=f"explain_class_{victim}_{sample.name}")
    absent = next(index for index in range(10) if ", in the input" not in picker.format_func(index))
    checked(picker.set_value(absent).run())
    checked(at.button(key="explain").click().run())
    assert not at.dataframe  # nothing to score a class the mosaic does not hold against
    assert any(i.value.startswith(f"No ground truth for {get_profile(victim).class_names[absent]}") for i in at.info)


def test_the_randomisation_check_runs_on_demand() -> None:
    at = explain(explain_page("image", "image-grid-cnn"), "image-grid-cnn", ["gradcam", "random"])
    assert not any(getattr(d, "key", None) == "explain_randomisation" for d in at.dataframe)
    checked(at.button(key="explain_randomise").click().run())
    rows = at.dataframe[-1].value.set_index("method")["rank correlation"]
    assert rows.loc["random"] == pytest.approx(1.0)  # a map that ignores the network cannot change with it
    assert abs(rows.loc["gradcam"]) < 0.9


def test_the_committed_benchmark_says_whether_the_set_can_judge_a_map() -> None:
    at = explain_page("image", "image-grid-cnn")
    assert any("every map that asks nothing of the model stays at or under 0.35" in c.value for c in at.caption)
    curves = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "within q queries" in c.proto.spec]
    assert len(curves) == 2  # dice and gridpg against the budget
    assert {"lime", "rise"} <= {trace["name"] for trace in curves[0]["data"]}


def test_the_benchmark_read_is_the_victims_own_else_a_partial_run_beside_it(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    from rlab_app.state import explanations

    monkeypatch.setattr(explanations, "ROOT", tmp_path)
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    assert explanations.explain_benchmark("tiny") is None
    (folder / "explain-tiny.json").write_text(json.dumps({"rows": []}))  # a run from before the validity check
    assert explanations.explain_benchmark("tiny") is None
    partial = {"rows": [], "validity": {"valid": False, "bound": 0.35, "failures": ["model_free scores dice 0.9"]}}
    (folder / "explain-tiny-controls.json").write_text(json.dumps(partial))
    assert explanations.explain_benchmark("tiny") == partial
    whole = {**partial, "validity": {"valid": True, "bound": 0.35, "failures": []}}
    (folder / "explain-tiny.json").write_text(json.dumps(whole))
    assert explanations.explain_benchmark("tiny") == whole
