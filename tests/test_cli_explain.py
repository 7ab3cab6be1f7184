"""``python -m rlab_core explain``: one JSON object with every method's scores, maps written by
``--out``, and exit code 2 with one line for a bad argument."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from rlab_core.cli import main
from rlab_core.victims import get_profile, profiles
from rlab_core.victims import victim as victim_module


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_json_object(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout[:500]
    return json.loads(lines[0])


SCORES = {"dice", "iou", "dice_at_rl_area", "pointing"}


def test_explain_video_sample_prints_scores_and_writes_maps_and_overlays(capsys, tmp_path) -> None:
    out_dir = tmp_path / "explained"
    code, stdout, stderr = run(capsys, "--modality", "video", "--sample", "0", "--methods", "saliency,occlusion",
                               "--budget", "60", "--json", "--out", str(out_dir))
    assert code == 0, stderr
    result = one_json_object(stdout)
    assert {"run", "methods", "victim", "label", "label_name", "ground_truth"} <= result.keys()
    assert result["run"]["victim"] == "video-cnn" and result["run"]["seed"] == 0
    assert result["victim"] == "video-cnn" and result["ground_truth"] is True and result["budget"] == 60
    assert list(result["methods"]) == ["saliency", "occlusion"]
    for name, entry in result["methods"].items():
        assert SCORES <= entry.keys(), name
        assert 0.0 <= entry["iou"] <= entry["dice"] <= 1.0 and isinstance(entry["pointing"], bool)
        assert entry["dice_at_rl_area"] is None or 0.0 <= entry["dice_at_rl_area"] <= 1.0
    saliency, occlusion = result["methods"]["saliency"], result["methods"]["occlusion"]
    assert saliency["white_box"] is True and saliency["queries"] is None
    assert occlusion["white_box"] is False and occlusion["queries"] == 1 + 512

    assert json.loads((out_dir / "explanation.json").read_text()) == result
    for name in ("saliency", "occlusion"):
        values = np.load(out_dir / f"{name}.npy")
        assert values.shape == (16, 64, 64) and np.isfinite(values).all()
        assert (out_dir / f"{name}.mp4").stat().st_size > 0
        assert not (out_dir / f"{name}.png").exists()
    import av

    with av.open(str(out_dir / "saliency.mp4")) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 16 and frames[0].shape == (64, 64, 3)


@pytest.mark.parametrize("case,args,says", [
    ("unknown method", ["--modality", "video", "--sample", "0", "--methods", "bogus"], "bogus"),
    ("one unknown among known", ["--modality", "video", "--sample", "0", "--methods", "saliency,gradcm"], "gradcm"),
    ("no method", ["--modality", "video", "--sample", "0", "--methods", ","], "method"),
    ("budget too small", ["--modality", "video", "--sample", "0", "--budget", "1"], "budget"),
    ("sample out of range", ["--modality", "image", "--victim", "image-loc-cnn", "--sample", "2000"], "out of range"),
    ("victim of another modality", ["--modality", "ecg", "--victim", "image-loc-cnn", "--sample", "0"], "image"),
    ("no input", ["--modality", "video"], "required"),
    ("missing file", ["--modality", "image", "--input", "/nonexistent/x.png"], "no such file"),
])
def test_bad_explain_arguments_exit_2_with_one_line(capsys, case: str, args: list[str], says: str) -> None:
    code, stdout, stderr = run(capsys, *args, "--json")
    assert code == 2, (case, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], (case, stderr)
    assert "Traceback" not in stderr and stdout == "", case


@pytest.fixture
def image_loc_weights(tmp_path, monkeypatch):
    """image-loc-cnn's weights; while they are not trained yet, seeded untrained ones in a temporary
    folder stand in (this test is about maps and files, not about the network's accuracy)."""
    spec = get_profile("image-loc-cnn")
    if spec.weights_path.exists():
        yield
        return
    torch.manual_seed(0)
    torch.save(spec.build().state_dict(), tmp_path / "image-loc-cnn.pt")
    monkeypatch.setattr(profiles, "WEIGHTS", tmp_path)
    victim_module._shipped_network.cache_clear()
    yield
    victim_module._shipped_network.cache_clear()


def test_explain_an_uploaded_image_gives_maps_but_no_scores(capsys, tmp_path, image_loc_weights) -> None:
    from rlab_core.datasets import FashionOnTexture

    path = tmp_path / "garment.png"
    pixels = (FashionOnTexture("test")[3].x[0].numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    out_dir = tmp_path / "maps"
    methods = ("saliency", "ig", "gradcam", "occlusion")
    code, stdout, stderr = run(capsys, "--modality", "image", "--victim", "image-loc-cnn", "--input", str(path),
                               "--methods", ",".join(methods), "--json", "--out", str(out_dir))
    assert code == 0, stderr
    result = one_json_object(stdout)
    assert result["ground_truth"] is False and result["true_label"] is None and result["input"] == "garment.png"
    assert result["rl_success"] is None  # nothing to score, so no RL attack was run
    assert list(result["methods"]) == list(methods)
    for name, entry in result["methods"].items():
        assert not SCORES & entry.keys(), name
        assert entry["white_box"] == (name != "occlusion")
    assert result["methods"]["occlusion"]["queries"] == 1 + 64
    for name in methods:
        assert np.load(out_dir / f"{name}.npy").shape == (64, 64)
        with Image.open(out_dir / f"{name}.png") as overlay:
            assert overlay.size == (64, 64) and overlay.mode == "RGB"


def test_explain_an_ecg_strip_in_text_mode_and_its_overlays(capsys, tmp_path) -> None:
    out_dir = tmp_path / "ecg"
    # test strip 0 holds no abnormal beat: no ground truth, so no scores and no RL attack
    code, stdout, stderr = run(capsys, "--modality", "ecg", "--victim", "ecg-loc-cnn", "--sample", "0",
                               "--methods", "saliency,occlusion", "--out", str(out_dir))
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert "white-box" in lines[0] and "ecg-loc-cnn" in lines[0]
    assert lines[1].split()[:2] == ["saliency", "white-box"] and "dice" not in stdout
    assert lines[2].split()[:3] == ["occlusion", str(1 + 28), "queries"]
    for name in ("saliency", "occlusion"):
        assert np.load(out_dir / f"{name}.npy").shape == (560,)
        with Image.open(out_dir / f"{name}.png") as overlay:
            assert overlay.size[0] > overlay.size[1] > 0
    assert json.loads((out_dir / "explanation.json").read_text())["ground_truth"] is False


def test_explain_an_abnormal_ecg_strip_is_scored(capsys) -> None:
    # strip 1 holds an abnormal beat; dice_at_rl_area needs the RL agent's rl_hard, and is
    # None (with a note) while ecg-loc-cnn has no agent or when no attack succeeds
    code, stdout, stderr = run(capsys, "--modality", "ecg", "--victim", "ecg-loc-cnn", "--sample", "1",
                               "--methods", "gradcam", "--budget", "20", "--json")
    assert code == 0, stderr
    result = one_json_object(stdout)
    assert result["ground_truth"] is True and result["true_label"] == 1
    entry = result["methods"]["gradcam"]
    assert SCORES <= entry.keys() and 0.0 <= entry["dice"] <= 1.0
    if entry["dice_at_rl_area"] is None and result["rl_success"] is None:
        assert any("no agent" in note for note in result["notes"])
