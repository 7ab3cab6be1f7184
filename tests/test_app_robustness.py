"""The Robustness page run headless by Streamlit's AppTest: a shipped report, a run followed across reloads, stopping it.

The reports come from one tiny real run (ecg-cnn, everything under tmp_path); the page's runs
folder and shipped-reports folder point into tmp_path, and the background worker is replaced by a
stand-in process that writes the progress file as the real one does.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from apptest import checked, open_app
from streamlit.testing.v1 import AppTest

from rlab_app import jobs
from rlab_app.figures.robustness import ROBUSTNESS_PANELS
from rlab_core import background, robustness
from rlab_core.robustness import report as robustness_report
from rlab_core.victims import victim as victim_module

torch.set_num_threads(1)

PAGE = "rlab_app/pages/robustness.py"
VICTIM = "ecg-cnn"
TINY = {"n_attack_inputs": 60, "n_val_attacks": 20, "epochs": 2, "patience": 2, "budget": 50, "n_eval": 8,
        "n_square": 2, "clean_per_epoch": 1000, "n_samples": 2, "adaptive_steps": 0,
        "adaptive_recipe": {"n_inputs": 10, "imitation_epochs": 1, "dagger_rounds": 0, "n_val": 3, "val_budget": 20}}


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("robustness-page")
    config = robustness.config_for(VICTIM, "quick", **TINY)
    report = robustness.run_robustness(config, folder / f"{VICTIM}-hardened.pt")
    robustness.save_report(report, folder / "report.json")
    return folder / "report.json"


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty shipped-reports and runs folders for the page."""
    reports, runs = tmp_path / "benchmarks", tmp_path / "runs"
    reports.mkdir()
    monkeypatch.setattr(robustness_report, "REPORTS", reports)
    monkeypatch.setattr(victim_module, "HARDENED_RUNS", runs)
    return reports, runs


def robustness_page() -> AppTest:
    return open_app(PAGE, "Robustness", "ecg", timeout=120)


def bars(at: AppTest) -> list[str]:
    return [bar.text for bar in at.get("progress")]


def test_a_shipped_report_is_drawn_before_and_after(report_file: Path, places) -> None:
    reports, _ = places
    (reports / f"robustness-{VICTIM}.json").write_text(report_file.read_text())
    at = robustness_page()
    report = json.loads(report_file.read_text())
    assert at.radio(key=f"robustness_source_{VICTIM}").value.startswith("Shipped")
    assert [m.label for m in at.metric] == ["Clean accuracy", "RL success (mix)", "Adaptive agent", "Square success"]
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [a["text"] for a in figures[0]["layout"]["annotations"]]
    assert titles == list(ROBUSTNESS_PANELS)
    names = {trace["name"] for trace in figures[0]["data"]}
    assert names == {"before", "after", "adaptive agent, after"}
    table = at.dataframe[0].value
    assert list(table[""]) == ["before", "after", "adaptive agent (after)"]
    assert table["RL success (mix)"].tolist()[:2] == [report["before"]["rl_success_rate"],
                                                     report["after"]["rl_success_rate"]]
    # One comparison per sample, each stating what the hardened victim says.
    assert len(figures) == 1 + len(report["samples"]) >= 2
    said = [md.value for md in at.markdown if "the hardened victim says" in md.value]
    assert len(said) == len(report["samples"])
    assert bars(at) == []
    assert any(c.value == "No run started from this app yet." for c in at.caption)


def test_without_a_report_the_page_says_how_to_make_one(places) -> None:
    at = robustness_page()
    assert any("python -m benchmarks.robustness --victim ecg-cnn" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_a_pretrained_victim_is_not_offered(places) -> None:
    at = robustness_page()
    checked(at.sidebar.selectbox(key="modality").select("image").run())
    checked(at.sidebar.selectbox(key="victim_image").select("imagenet-efficientnet-lite0").run())
    assert any("is not fine-tuned here" in i.value for i in at.info)


def test_a_run_is_followed_across_reloads_then_its_report_shown(report_file: Path, places,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, runs = places
    started: list[tuple[str, str]] = []
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)

    def fake_start(victim: str, preset: str, folder: Path) -> Path:
        started.append((victim, preset))
        folder.mkdir(parents=True, exist_ok=True)
        background.write_json(folder / "progress.json", {
            "status": "running", "pid": stand_in.pid, "started": time.time(), "victim": victim, "preset": preset,
            "phase": "fine-tune", "message": "epoch 1/4: score 0.9",
            "phases": {"attack": {"done": 160, "total": 160, "seconds": 8.0},
                       "fine-tune": {"done": 55, "total": 220, "seconds": 3.0}}})
        return folder

    monkeypatch.setattr(jobs, "start_robustness", fake_start)
    try:
        at = robustness_page()
        checked(at.radio(key="robustness_preset").set_value("quick").run())
        checked(at.button(key="robustness_start").click().run())
        assert started == [(VICTIM, "quick")]
        expected = ["Attacking the training split: 160/160 (8 s)", "Fine-tuning: 55/220 (3 s)",
                    "Attacking the test split, before and after: waiting", "The adaptive attacker: waiting"]
        assert bars(at) == expected
        assert at.button(key="robustness_start").disabled and not at.button(key="robustness_stop").disabled

        # A reload (a new session) finds the run on disk.
        again = robustness_page()
        assert bars(again) == expected
        assert any(i.value.startswith("No report for ecg-cnn yet") for i in again.info)

        # The run finishes: its report appears as this app's run.
        folder = runs / VICTIM
        (folder / "report.json").write_text(report_file.read_text())
        progress = json.loads((folder / "progress.json").read_text())
        background.write_json(folder / "progress.json", {**progress, "status": "done"})
        checked(again.run())
        assert again.radio(key=f"robustness_source_{VICTIM}").value == "This app's last run"
        assert any(s.value.startswith("The run finished") for s in again.success)
        assert len(again.metric) == 4
    finally:
        stand_in.kill()
        stand_in.wait()


def test_stop_ends_the_worker(places, monkeypatch: pytest.MonkeyPatch) -> None:
    _, runs = places
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        folder = runs / VICTIM
        background.write_json(folder / "progress.json", {"status": "running", "pid": worker.pid, "started": time.time(),
                                                         "phase": None, "phases": {}, "message": "Starting…"})
        at = robustness_page()
        assert not at.button(key="robustness_stop").disabled
        checked(at.button(key="robustness_stop").click().run())
        assert worker.wait(timeout=10) != 0
        assert json.loads((folder / "progress.json").read_text())["status"] == "stopped"
        assert any(w.value.startswith("The run stopped before finishing") for w in at.warning)
        assert not at.button(key="robustness_start").disabled
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()


@pytest.mark.parametrize("preset, resumed", [("quick", True), ("default", False)])
def test_start_resumes_a_stopped_run_of_the_same_setting(places, monkeypatch: pytest.MonkeyPatch, preset: str,
                                                         resumed: bool) -> None:
    """A quick run killed midway (its process gone, its progress file still saying running) left its
    steps: Start with the quick setting resumes it; with another setting, starts afresh."""
    _, runs = places
    folder = runs / VICTIM
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    background.write_json(folder / "progress.json", {"status": "running", "pid": int(dead.stdout), "started": time.time(),
                                                     "preset": "quick", "phase": "fine-tune", "message": "epoch 1/4",
                                                     "phases": {"attack": {"done": 160, "total": 160, "seconds": 8.0}}})
    steps = robustness.phases_folder(folder / "report.json")
    background.write_json(steps / robustness.SETTINGS_FILE, robustness.run_settings(robustness.config_for(VICTIM, "quick")))
    commands: list[list[str]] = []
    monkeypatch.setattr(jobs, "start_worker", lambda command, folder, **info: commands.append(command) or folder)
    at = robustness_page()
    assert any(w.value.startswith("The run stopped before finishing") for w in at.warning)
    checked(at.radio(key="robustness_preset").set_value(preset).run())
    checked(at.button(key="robustness_start").click().run())
    [command] = commands
    assert ("--resume" in command) == resumed and ("--quick" in command) == (preset == "quick")
