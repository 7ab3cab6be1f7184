"""The explanation benchmark's script on a tiny run: its rows, validity check, randomisation and
budget curves, and a run without the RL attacks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import explain as benchmark

pytestmark = pytest.mark.slow  # a minute of real explanations


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("explain") / "explain-tiny.json"
    benchmark.main(["--victim", "image-grid-cnn", "--n", "2", "--budget", "60", "--randomisation", "1",
                    "--curves", "1", "--methods", "rl,gradcam,lime,model_free,edges,random,model_free_in_cell",
                    "--out", str(out)])
    return json.loads(out.read_text()) | {"out": str(out)}


def test_every_method_is_a_row_with_its_access_and_the_set_is_checked(report: dict) -> None:
    rows = {row["method"]: row for row in report["rows"]}
    assert list(rows) == ["rl", "gradcam", "lime", "model_free", "edges", "random", "model_free_in_cell"]
    assert rows["rl"]["access"] == "black-box" and rows["gradcam"]["access"] == "white-box"
    assert rows["random"]["access"] == "control" and rows["model_free_in_cell"]["access"].endswith("ground truth")
    assert rows["model_free_in_cell"]["gridpg_mean"] == pytest.approx(1.0)
    assert report["inputs"] == 2 and rows["lime"]["mean_queries"] <= 60
    check = report["validity"]
    assert check["missing_controls"] == [] and check["valid"] == (not check["failures"])
    assert Path(report["out"]).with_suffix(".md").read_text().startswith("# `image-grid-cnn`")


def test_randomisation_leaves_the_ground_truth_control_out_and_curves_read_every_budget(report: dict) -> None:
    correlations = {row["method"]: row["mean"] for row in report["randomisation"]["rows"]}
    assert "model_free_in_cell" not in correlations and correlations["random"] == pytest.approx(1.0)
    curves = report["curves"]["rows"]
    assert {row["budget"] for row in curves if row["method"] == "lime"} == set(benchmark.CURVE_BUDGETS)
    for row in curves:
        assert row["max_queries"] <= row["budget"], row  # no method spends more than its budget
    assert {row["method"] for row in curves} == {"rl", "lime"}


def test_without_rl_no_agent_runs_and_the_markdown_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args, **kwargs):
        raise AssertionError("no agent may be loaded")

    monkeypatch.setattr(benchmark, "load_agent", refused)
    out = tmp_path / "explain-tiny.json"
    benchmark.main(["--victim", "image-grid-cnn", "--n", "1", "--budget", "60", "--randomisation", "0", "--curves", "0",
                    "--methods", "rl,occlusion,model_free", "--without-rl", "--out", str(out)])
    report = json.loads(out.read_text())
    assert [row["method"] for row in report["rows"]] == ["occlusion", "model_free"]
    assert report["command"].endswith("--without-rl")
    markdown = out.with_suffix(".md").read_text()
    assert "no RL attacks" in markdown and "Validity not checked by this run" in markdown


def test_a_randomisation_only_rerun_replaces_that_test_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "explain-tiny.json"
    benchmark.main(["--victim", "image-grid-cnn", "--n", "2", "--budget", "40", "--randomisation", "0", "--curves", "0",
                    "--methods", "occlusion,model_free,model_free_in_cell", "--without-rl", "--out", str(out)])
    before = json.loads(out.read_text())
    assert before["randomisation"]["rows"] == []
    benchmark.main(["--victim", "image-grid-cnn", "--randomisation", "2", "--randomisation-only", "--out", str(out)])
    after = json.loads(out.read_text())
    assert after["rows"] == before["rows"] and after["samples"] == before["samples"]
    randomised = after["randomisation"]
    assert [row["method"] for row in randomised["rows"]] == ["occlusion", "model_free"]
    assert [s["index"] for s in randomised["samples"]] == [s["index"] for s in before["samples"]]
    assert randomised["rows"][1]["mean"] == pytest.approx(1.0)  # a model-free map ignores the weights
    assert randomised["command"].endswith("--randomisation-only --out " + str(out))
    assert "Rerun apart by" in out.with_suffix(".md").read_text()
