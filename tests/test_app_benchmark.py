"""The Benchmark page run headless by Streamlit's AppTest: the published results, and a live run in the background.

The published report is the repository's ``benchmarks/bench-ecg-cnn.json``, copied into a
published folder under tmp_path; the live runs (real ``python -m rlab_core bench`` processes,
a few seconds each) write into a runs folder under tmp_path, never into the repository's runs/.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apptest import checked, open_app
from streamlit.testing.v1 import AppTest

from rlab_app import jobs
from rlab_app.figures.benchmark import bench_curves_figure, bench_queries_figure
from rlab_core import ROOT, background, bench
from rlab_core.cli import main

PAGE = "rlab_app/pages/benchmark.py"
VICTIM = "ecg-cnn"
PUBLISHED = ROOT / "benchmarks" / f"bench-{VICTIM}.json"
TINY = {"attacks": ["rl", "random"], "n": 2, "budget": 50}


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A published folder holding the ecg-cnn report, and an empty runs folder, for the page."""
    reports, runs = tmp_path / "benchmarks", tmp_path / "runs"
    reports.mkdir()
    shutil.copy(PUBLISHED, reports / PUBLISHED.name)
    monkeypatch.setattr(bench.report, "REPORTS", reports)
    monkeypatch.setattr(bench.report, "RUNS", runs)
    return reports, runs


def benchmark_page() -> AppTest:
    return open_app(PAGE, "Benchmark", "ecg")


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def set_tiny(at: AppTest) -> None:
    at.multiselect(key="bench_attacks").set_value(TINY["attacks"])
    at.number_input(key="bench_n").set_value(TINY["n"])
    at.number_input(key="bench_budget").set_value(TINY["budget"])


def wait_for_end(at: AppTest, timeout: float = 120) -> None:
    """Rerun the page (as the fragment's polling would) until the live run is no longer running."""
    deadline = time.monotonic() + timeout
    while at.button(key="bench_start").disabled and time.monotonic() < deadline:
        time.sleep(1)
        checked(at.run())
    assert not at.button(key="bench_start").disabled, "the live run did not end in time"


def test_the_published_table_and_curves(places) -> None:
    at = benchmark_page()
    report = json.loads(PUBLISHED.read_text())
    assert at.selectbox(key="bench_published").value == VICTIM
    table = at.dataframe[0].value
    assert list(table["attack"]) == report["attacks"] == [row["attack"] for row in report["rows"]]
    assert table["success"].tolist() == [row["success_rate"] for row in report["rows"]]
    assert "SNR dB" in table.columns
    assert any(report["command"] in c.value and "whole budget" in c.value for c in at.caption)
    curves, queries = figures(at)[:2]
    assert [trace["name"] for trace in curves["data"]] == report["attacks"]
    assert curves["layout"]["xaxis"]["type"] == "log"
    assert list(queries["data"][0]["x"]) == report["attacks"]
    assert list(queries["data"][0]["y"]) == [row["median_queries"] for row in report["rows"]]
    # Nothing live yet: no progress bar, the Start button ready.
    assert not at.get("progress")
    assert not at.button(key="bench_start").disabled and at.button(key="bench_stop").disabled


def test_without_published_results_the_page_says_how_to_make_them(places) -> None:
    reports, _ = places
    (reports / PUBLISHED.name).unlink()
    at = benchmark_page()
    assert any("python -m rlab_core bench" in i.value for i in at.info)
    assert not at.dataframe


def test_the_figures_come_from_the_reports_curves_and_rows() -> None:
    report = bench.BenchReport.from_json(json.loads(PUBLISHED.read_text()))
    curves = bench_curves_figure(report)
    for trace, name in zip(curves.data, report.config.attacks):
        assert list(trace.x) == report.curves[name]["queries"]
        assert list(trace.y) == report.curves[name]["success_rate"]
    bars = bench_queries_figure(report).data[0]
    assert list(bars.customdata) == [row["success_rate"] for row in report.rows]


def test_a_live_run_shows_progress_then_its_table_and_survives_a_reload(places) -> None:
    _, runs = places
    at = benchmark_page()
    set_tiny(at)
    checked(at.button(key="bench_start").click().run())
    folder = runs / VICTIM
    assert (folder / background.PROGRESS).exists()
    status, progress = jobs.worker_state(folder)
    if status == "running":
        assert at.button(key="bench_start").disabled and not at.button(key="bench_stop").disabled
        assert len(at.get("progress")) == 1
        # A reload (a new session) finds the run on disk.
        again = benchmark_page()
        assert again.button(key="bench_start").disabled
    wait_for_end(at)
    status, progress = jobs.worker_state(folder)
    assert status == "done", jobs.log_tail(folder, 40)
    assert (progress["phases"]["attacks"]["done"], progress["phases"]["attacks"]["total"]) == (4, 4)
    assert [bar.text.split(" (")[0] for bar in at.get("progress")] == ["4 of 4 attacks done"]
    assert any(s.value.startswith("The run finished") for s in at.success)
    live = at.dataframe[1].value
    assert list(live["attack"]) == TINY["attacks"]
    assert live["inputs"].tolist() == [TINY["n"]] * 2
    report = json.loads((folder / bench.LIVE).read_text())
    assert "--n 2 --budget 50" in report["command"]
    assert [trace["name"] for trace in figures(at)[2]["data"]] == TINY["attacks"]
    assert {p.name for p in folder.iterdir()} >= {"live.json", "live.jsonl", "live.md", "live.png", "log.txt"}


def test_bad_settings_are_one_error_and_start_nothing(places) -> None:
    _, runs = places
    at = benchmark_page()
    at.multiselect(key="bench_attacks").set_value(["random", "square"])
    checked(at.button(key="bench_start").click().run())
    assert [e.value for e in at.error] == ["square need rl among the attacks: their distortion is matched to rl's L2"]
    assert not (runs / VICTIM).exists()


def test_a_failing_run_is_one_clear_message(places) -> None:
    _, runs = places
    folder = runs / VICTIM
    error = "ecg-cnn has no RL agent yet: train one with python -m rlab_core train-agent --victim ecg-cnn"
    background.write_json(folder / background.PROGRESS,
                          {"status": "failed", "pid": 1, "started": time.time(), "phases": {}, "error": error})
    at = benchmark_page()
    assert [e.value for e in at.error] == [f"The benchmark failed: {error}"]
    assert len(at.dataframe) == 1  # the published table only


def test_stop_ends_the_worker(places) -> None:
    _, runs = places
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        folder = runs / VICTIM
        background.write_json(folder / background.PROGRESS, {
            "status": "running", "pid": worker.pid, "started": time.time(), "phase": "attacks", "message": "",
            "phases": {"attacks": {"done": 3, "total": 10, "seconds": 2.0}}})
        at = benchmark_page()
        assert [bar.text.split(" (")[0] for bar in at.get("progress")] == ["3 of 10 attacks done"]
        checked(at.button(key="bench_stop").click().run())
        assert worker.wait(timeout=10) != 0
        assert jobs.worker_state(folder)[0] == "stopped"
        assert any(w.value.startswith("The run stopped before finishing") for w in at.warning)
        assert not at.button(key="bench_start").disabled
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()


def test_a_killed_run_is_shown_stopped(places) -> None:
    """A worker killed (SIGKILL) midway cannot say so: the page tells it from its dead process."""
    _, runs = places
    folder = jobs.start_bench(bench.BenchConfig(VICTIM, ("rl", "random"), n=8, budget=100), runs / VICTIM)
    records = folder / "live.jsonl"
    deadline = time.monotonic() + 120
    while jobs.worker_state(folder)[0] == "running" and time.monotonic() < deadline and \
            (not records.exists() or records.read_text().count("\n") < 2):  # the settings line and one record
        time.sleep(0.05)
    status, progress = jobs.worker_state(folder)
    assert status == "running", jobs.log_tail(folder, 40)
    os.killpg(progress["pid"], signal.SIGKILL)
    while jobs.worker_state(folder)[0] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    status, progress = jobs.worker_state(folder)
    assert status == "stopped" and progress["status"] == "running"  # the file still says running
    at = benchmark_page()
    assert any(w.value.startswith("The run stopped before finishing") for w in at.warning)
    assert "input " in at.code[0].value  # the end of its log: the inputs it finished
    assert not at.button(key="bench_start").disabled and at.button(key="bench_stop").disabled


def test_cli_bench_progress_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, progress = tmp_path / "b.json", tmp_path / "progress.json"
    assert main(["bench", "--modality", "ecg", "--victim", VICTIM, "--attacks", "random", "--n", "2", "--budget", "20",
                 "--out", str(out), "--progress", str(progress)]) == 0
    state = json.loads(progress.read_text())
    assert state["status"] == "done" and state["report"] == str(out)
    assert {k: state["phases"]["attacks"][k] for k in ("done", "total")} == {"done": 2, "total": 2}
    assert main(["bench", "--modality", "ecg", "--victim", VICTIM, "--attacks", "square", "--out", str(out),
                 "--progress", str(progress)]) == 2
    state = json.loads(progress.read_text())
    assert state["status"] == "failed" and "need rl" in state["error"]
    capsys.readouterr()


def test_a_live_run_on_your_own_onnx_model(places, tmp_path: Path) -> None:
    from test_onnx_model import export, fresh

    from rlab_core.victims import file_sha256, get_profile

    _, runs = places
    at = benchmark_page()
    set_tiny(at)
    checked(at.toggle(key="bench_own_model").set_value(True).run())
    checked(at.button(key="bench_start").click().run())
    [error] = at.error
    assert error.value.startswith("upload your ONNX model first")
    assert not (runs / VICTIM).exists()  # nothing started

    model = export(fresh(VICTIM), tmp_path / "mine.onnx", get_profile(VICTIM).input_shape)
    checked(at.file_uploader(key=f"bench_onnx_{VICTIM}").set_value(("mine.onnx", model.read_bytes(),
                                                                    "application/octet-stream")).run())
    checked(at.button(key="bench_start").click().run())
    wait_for_end(at)
    folder = runs / VICTIM
    assert jobs.worker_state(folder)[0] == "done", jobs.log_tail(folder, 40)
    report = json.loads((folder / bench.LIVE).read_text())
    assert report["run"]["victim_weights_sha256"] == file_sha256(model) == file_sha256(folder / bench.MODEL_FILE)
    assert f"--model {folder / bench.MODEL_FILE}" in report["command"]
