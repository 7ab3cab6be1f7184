"""The command line: one JSON object on --json, and exit code 2 with one line for every bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from rlab_core import ROOT
from rlab_core.victims import PROFILES


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlab_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.parametrize("victim", sorted(PROFILES))
def test_predict_json_on_sample_zero_of_every_victim(victim: str) -> None:
    modality = PROFILES[victim].modality
    out = run_cli("predict", "--modality", modality, "--victim", victim, "--sample", "0", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"run", "modality", "victim", "label", "label_name", "top"} <= result.keys()
    assert result["victim"] == victim and result["modality"] == modality
    assert result["label_name"] == PROFILES[victim].class_names[result["label"]] == result["top"][0][0]
    probs = [p for _, p in result["top"]]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
    if not PROFILES[victim].multi_label:  # a softmax; a multi-label victim scores each class on its own
        assert 0 < sum(probs) <= 1.0001
    assert result["run"]["victim_weights_sha256"] not in (None, "missing")
    assert len(result["run"]["git_commit"]) in (40, 7) or result["run"]["git_commit"] == "unknown"


def test_predict_on_an_uploaded_image(tmp_path) -> None:
    from rlab_core.datasets import FashionMNIST

    sample = FashionMNIST("test")[0]
    path = tmp_path / "item.png"
    Image.fromarray((sample.x[0].numpy() * 255).round().astype(np.uint8)).save(path)
    out = run_cli("predict", "--modality", "image", "--input", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["label"] == sample.y


def test_predict_on_an_ecg_recording_with_beat_choice(tmp_path) -> None:
    import neurokit2 as nk

    path = tmp_path / "rec.csv"
    np.savetxt(path, nk.ecg_simulate(duration=8, sampling_rate=250, random_state=2))
    out = run_cli("predict", "--modality", "ecg", "--input", str(path), "--fs", "250", "--beat", "2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["input"] == "rec.csv beat 2"


def bad_files(tmp_path) -> dict[str, list[str]]:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "nan.csv").write_text("\n".join(["0.1"] * 70 + ["nan"] + ["0.2"] * 69))
    (tmp_path / "text.csv").write_text("1\n2\nthree\n")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 1000)
    return {
        "empty image": ["--modality", "image", "--input", str(tmp_path / "empty.png")],
        "truncated image": ["--modality", "image", "--input", str(tmp_path / "truncated.png")],
        "wrong extension": ["--modality", "image", "--input", str(tmp_path / "notes.txt")],
        "missing file": ["--modality", "image", "--input", str(tmp_path / "nope.png")],
        "nan ecg": ["--modality", "ecg", "--input", str(tmp_path / "nan.csv")],
        "text ecg": ["--modality", "ecg", "--input", str(tmp_path / "text.csv")],
        "pickled npy": ["--modality", "ecg", "--input", str(tmp_path / "obj.npy")],
        "corrupt video": ["--modality", "video", "--input", str(tmp_path / "bad.mp4")],
        "unknown modality": ["--modality", "audio", "--sample", "0"],
        "unknown victim": ["--modality", "image", "--victim", "resnet", "--sample", "0"],
        "victim of another modality": ["--modality", "ecg", "--victim", "image-cnn", "--sample", "0"],
        "sample out of range": ["--modality", "ecg", "--sample", "99999"],
        "both input and sample": ["--modality", "ecg", "--sample", "0", "--input", "x.csv"],
        "not a number": ["--modality", "ecg", "--sample", "zero"],
    }


def test_every_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path) -> None:
    for case, args in bad_files(tmp_path).items():
        out = run_cli("predict", *args, "--json")
        assert out.returncode == 2, (case, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (case, out.stderr)
        assert "Traceback" not in out.stderr and out.stdout == "", case
