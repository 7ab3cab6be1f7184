"""Adversarial fine-tuning (rlab_core/robustness/) and ``python -m rlab_core robustness``.

One tiny run of the real pipeline on ecg-cnn (the CLI in-process with a shrunken quick preset,
everything written under tmp_path) serves most tests; the real ``--quick`` run is slow.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from counting import CountingModel
from killing import kill_when

from rlab_app import jobs
from rlab_core import ROOT, background, robustness
from rlab_core.agents.agent import AgentError, load_adaptive_agent, load_agent, recipe, train_agent
from rlab_core.attacks import RLAttack
from rlab_core.callbacks import Record
from rlab_core.cli import main
from rlab_core.victims import Victim, VictimError, file_sha256, get_profile, hardened_path, weight_choices, weights_file
from rlab_core.victims import victim as victim_module

torch.set_num_threads(1)

VICTIM = "ecg-cnn"


def shipped_network() -> torch.nn.Module:
    """The cached shipped network every attack on the built-in victim queries."""
    return Victim.builtin(VICTIM).network


def hardened_victim(report: dict) -> Victim:
    return Victim.builtin(VICTIM, weights=Path(report["hardened_weights"]))
SIDE_KEYS = {"clean_accuracy", "rl_success_rate", "rl_median_queries", "square_success_rate", "per_filter"}
TINY = {"n_attack_inputs": 100, "n_val_attacks": 30, "epochs": 3, "patience": 2, "budget": 60, "n_eval": 12,
        "n_square": 3, "clean_per_epoch": 1500, "n_samples": 2, "adaptive_steps": 0,
        "adaptive_recipe": {"n_inputs": 20, "imitation_epochs": 2, "dagger_rounds": 0, "n_val": 4, "val_budget": 30}}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hardened_in_assets() -> set[Path]:
    return {*(ROOT / "assets").rglob("*hardened*")}


@pytest.fixture(scope="module")
def shipped_before() -> tuple[dict[Path, tuple[str, int]], set[Path]]:
    """The victim's shipped weights and agent, hash and time, before the tiny run (only these:
    other victims' files may be retrained meanwhile), and what hardened files assets holds."""
    files = [get_profile(VICTIM).weights_path, ROOT / "assets" / "agents" / f"{VICTIM}.zip"]
    return {path: (digest(path), path.stat().st_mtime_ns) for path in files}, hardened_in_assets()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, shipped_before) -> tuple[Path, dict, str]:
    """``robustness --quick --json`` in-process, with the quick preset shrunk to :data:`TINY`."""
    folder = tmp_path_factory.mktemp("robustness")
    sizes = robustness.SIZES["quick"]
    robustness.SIZES["quick"] = {**sizes, **TINY}
    try:
        out = folder / "report.json"
        import contextlib
        import io

        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(["robustness", "--modality", "ecg", "--quick", "--out", str(out),
                         "--progress", str(folder / "progress.json"), "--json"])
    finally:
        robustness.SIZES["quick"] = sizes
    assert code == 0
    return folder, json.loads(out.read_text()), stdout.getvalue()


def test_the_cli_json_has_the_contract_keys(tiny_run) -> None:
    folder, report, stdout = tiny_run
    assert json.loads(stdout) == report  # --json: exactly one JSON object, the report
    assert {"run", "before", "after", "adaptive"} <= report.keys()
    for side in ("before", "after"):
        assert SIDE_KEYS <= report[side].keys()
        assert set(report[side]["per_filter"]) == {"gaussian_noise", "gaussian_blur", "dead_pixel", "illuminate"}
        assert 0 <= report[side]["clean_accuracy"] <= 1 and 0 <= report[side]["rl_success_rate"] <= 1
    assert {"success_rate", "median_queries"} <= report["adaptive"].keys()
    assert {"git_commit", "packages", "seed", "victim", "victim_weights_sha256"} <= report["run"].keys()
    assert report["run"]["victim"] == VICTIM and report["preset"] == "quick"
    assert (folder / "report.md").read_text().startswith(f"# `{VICTIM}`")
    progress = json.loads((folder / "progress.json").read_text())
    assert progress["status"] == "done"
    assert all(p["done"] == p["total"] for p in progress["phases"].values())
    assert list(progress["phases"]) == list(robustness.PHASES)


def test_fine_tuning_never_overwrites_the_shipped_weights(tiny_run, shipped_before, tmp_path: Path) -> None:
    folder, report, _ = tiny_run
    # The quick run wrote beside --out, nowhere else; every shipped file is as it was.
    assert (folder / f"{VICTIM}-hardened.pt").exists() and (folder / f"{VICTIM}-hardened-agent.zip").exists()
    assert Path(report["hardened_weights"]) == folder / f"{VICTIM}-hardened.pt"
    files, hardened = shipped_before
    for path, (sha, modified) in files.items():
        assert path.exists() and digest(path) == sha and path.stat().st_mtime_ns == modified, path
    assert hardened_in_assets() == hardened  # nothing new in assets either
    # The cached shipped network was not trained in place.
    on_disk = torch.load(get_profile(VICTIM).weights_path, weights_only=True)
    assert all(torch.equal(v, on_disk[k]) for k, v in shipped_network().state_dict().items())
    # The default place is beside the shipped weights, and a shipped weights path is refused.
    assert hardened_path(VICTIM) == get_profile(VICTIM).weights_path.with_name(f"{VICTIM}-hardened.pt")
    with pytest.raises(robustness.RobustnessError, match="never go there"):
        robustness.save_hardened(shipped_network().state_dict(), get_profile("image-cnn").weights_path)
    with pytest.raises(robustness.RobustnessError, match="never go there"):
        robustness.run_robustness(robustness.config_for(VICTIM, "quick"), get_profile(VICTIM).weights_path)
    # An agent trained against another network never replaces the shipped agent.
    with pytest.raises(ValueError, match="own path"):
        train_agent(recipe(VICTIM), victim=Victim.builtin(VICTIM))


def test_the_report_numbers_come_from_the_counting_victim(tiny_run) -> None:
    _, report, _ = tiny_run
    budget = report["evaluation"]["budget"]
    for side in ("before", "after"):
        table = report[side]["attacks"]
        assert set(table) == {*robustness.SETTINGS, "square_linf"}
        mix = robustness.records_of(table, "mix")
        assert len(mix) == report["evaluation"]["inputs"]
        assert report[side]["rl_success_rate"] == pytest.approx(np.mean([r["success"] for r in mix]), abs=1e-4)
        assert report[side]["rl_median_queries"] == np.median([r["queries"] if r["success"] else budget for r in mix])
        for name, entry in report[side]["per_filter"].items():
            assert entry == robustness.summary(robustness.records_of(table, name), budget)
        square = robustness.records_of(table, "square_linf")
        assert len(square) == report["evaluation"]["square"]["inputs"]
        assert report[side]["square_success_rate"] == pytest.approx(np.mean([r["success"] for r in square]), abs=1e-4)
        records = [r for setting in table for r in robustness.records_of(table, setting)]
        assert all(1 <= r["queries"] <= r["queries_total"] <= budget for r in records if r["success"])
        assert all(r["queries"] == budget >= r["queries_total"] for r in records if not r["success"])
    adaptive = robustness.records_of(report["adaptive"]["attacks"], "mix")
    assert report["adaptive"] == {**report["adaptive"], **robustness.summary(adaptive, budget)}

    # Each record's counts are the black box's: every sample that reaches the network is one of them.
    hardened = hardened_victim(report)
    counting = CountingModel(hardened.network)
    on_counting = Victim.like(counting, VICTIM, name=VICTIM, weights="hardened", sha256=hardened.sha256)
    inputs = robustness.eval_inputs([Victim.builtin(VICTIM)], 3)
    record = Record()
    records = robustness.rl_attacks(on_counting, load_agent(VICTIM), inputs, 40, [record],
                                    settings=("mix", "gaussian_blur"))
    records += robustness.square_attacks(on_counting, inputs, 0.05, 40, [record])
    assert counting.samples == sum(r["queries_total"] for r in records) > 0
    assert record.events == [("advance", (1, None))] * len(records)  # one step per attack


def test_fine_tuning_raises_accuracy_on_held_out_adversarial_samples(tiny_run) -> None:
    _, report, _ = tiny_run
    assert report["before"]["adversarial_accuracy"] == 0.0  # they fooled the shipped weights
    assert report["after"]["adversarial_accuracy"] >= 0.5
    assert report["after"]["rl_success_rate"] <= report["before"]["rl_success_rate"]
    assert report["after"]["clean_accuracy"] >= report["before"]["clean_accuracy"] - 0.03
    # Independently: adversarial samples from test inputs further on (fine-tuning saw train and val only).
    hardened = hardened_victim(report).network
    rl, data = RLAttack(load_agent(VICTIM), "mix"), get_profile(VICTIM).dataset("test")
    fooled = []
    for i in range(100, 130):
        sample = data[i]
        result = rl.run(Victim.builtin(VICTIM), sample.x, sample.y, budget=60, seed=i)
        if result.success:
            fooled.append((result.x_adv, sample.y))
    assert len(fooled) >= 10
    x, y = torch.stack([f[0] for f in fooled]), torch.tensor([f[1] for f in fooled])
    with torch.no_grad():
        assert (shipped_network()(x).argmax(-1) == y).float().mean() == 0
        assert (hardened(x).argmax(-1) == y).float().mean() >= 0.5


def test_samples_replay_to_inputs_the_hardened_victim_gets_right(tiny_run) -> None:
    _, report, _ = tiny_run
    assert report["samples"]
    hardened = hardened_victim(report).network
    for entry in report["samples"]:
        shown = robustness.replay_sample(VICTIM, entry)
        with torch.no_grad():
            assert int(shipped_network()(shown.x_adv[None]).argmax()) != entry["label"]
            assert int(hardened(shown.x_adv[None]).argmax()) == entry["label"]


def test_adaptive_recipe_is_the_shipped_agents_own() -> None:
    shipped = load_agent(VICTIM)
    config = robustness.adaptive_config(robustness.config_for(VICTIM, "default"), shipped)
    assert config.ppo_steps == shipped.meta["ppo_steps"] and config.n_inputs == shipped.meta["n_inputs"]
    assert config.cells_per_patch == tuple(shipped.meta["cells_per_patch"])
    assert robustness.adaptive_config(robustness.config_for(VICTIM, "quick"), shipped).ppo_steps == 0


@pytest.mark.parametrize("victim", ["ecg-cnn", "image-cnn", "video-cnn"])
def test_adaptive_recipe_takes_what_rlab_json_does_not_record_from_the_victims_recipe(victim: str) -> None:
    """video-cnn's agent predates ``dagger_rounds`` in rlab.json; its recipe has none, the class default one."""
    shipped = load_agent(victim)
    config = robustness.adaptive_config(robustness.config_for(victim, "default"), shipped)
    assert config.dagger_rounds == recipe(victim).dagger_rounds
    assert config.filters == ",".join(shipped.meta["filters"]) and config.n_val == shipped.meta["n_val"]


@pytest.mark.parametrize("args, message", [
    (["--modality", "image", "--victim", "imagenet-efficientnet-lite0"], "cannot be fine-tuned"),
    (["--modality", "ecg", "--victim", "image-cnn"], "is for image"),
    (["--modality", "ecg", "--quick", "--full"], "not allowed with"),
    (["--modality", "ecg", "--out", "report.txt"], "must name a .json"),
])
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["robustness", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_worker_state_of_a_dead_worker_is_stopped(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    background.write_json(tmp_path / "progress.json", {"status": "running", "pid": int(done.stdout), "phases": {}})
    assert jobs.worker_state(tmp_path)[0] == "stopped"
    assert jobs.worker_state(tmp_path / "nothing") == ("none", None)


@pytest.mark.slow
def test_the_pages_background_run_of_the_quick_command(tmp_path: Path, shipped_before) -> None:
    """``start_robustness`` runs ``python -m rlab_core robustness --quick`` as the page does, to the end."""
    folder = jobs.start_robustness(VICTIM, "quick", tmp_path)
    try:
        assert jobs.worker_state(folder)[0] == "running"
        deadline = time.monotonic() + 900
        while jobs.worker_state(folder)[0] == "running" and time.monotonic() < deadline:
            time.sleep(2)
    finally:
        jobs.stop_worker(folder)  # only if it still runs
    status, progress = jobs.worker_state(folder)
    assert status == "done", (folder / "log.txt").read_text()[-2000:]
    assert all(p["done"] == p["total"] for p in progress["phases"].values())
    report = json.loads((folder / "report.json").read_text())
    assert {"before", "after", "adaptive", "run"} <= report.keys()
    assert report["after"]["adversarial_accuracy"] > report["before"]["adversarial_accuracy"]
    assert report["after"]["rl_success_rate"] < report["before"]["rl_success_rate"]
    assert Path(report["hardened_weights"]) == folder / f"{VICTIM}-hardened.pt"
    files, hardened = shipped_before
    for path, (sha, _) in files.items():
        assert digest(path) == sha, path
    assert hardened_in_assets() == hardened


def tiny_command(folder: Path, *args: str) -> list[str]:
    """``robustness --quick`` into ``folder``, as a process of its own, with the quick preset shrunk to :data:`TINY`."""
    code = ("import sys; from rlab_core import robustness; "
            f"robustness.SIZES['quick'] = {{**robustness.SIZES['quick'], **{TINY!r}}}; "
            "from rlab_core.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", code, "robustness", "--modality", "ecg", "--quick", "--out", str(folder / "report.json"),
            "--progress", str(folder / "progress.json"), *args]


def comparable(report: dict) -> dict:
    """A report without its times, the paths of its run's folder and the commit (a commit made while the test runs)."""
    adaptive = {k: v for k, v in report["adaptive"].items() if k not in ("agent", "training_seconds")}
    run = {k: v for k, v in report["run"].items() if k != "git_commit"}
    return {**{k: v for k, v in report.items() if k not in ("seconds", "hardened_weights")}, "adaptive": adaptive,
            "run": run}


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_finished_step(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """The tiny run killed (SIGKILL) once its first step is kept, then run again with ``--resume``:
    the kept steps are read back, not redone, and the report is that of the run never stopped."""
    steps, env = robustness.phases_folder(tmp_path / "report.json"), {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "log.txt", "w") as log:
        first = subprocess.Popen(tiny_command(tmp_path), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        kill_when(first, (steps / "attack.pt").exists, 900, lambda: (tmp_path / "log.txt").read_text()[-2000:], poll=0.2)
    assert jobs.worker_state(tmp_path)[0] == "stopped"  # what the page shows of it
    assert not (tmp_path / "report.json").exists()
    kept = {path: (digest(path), path.stat().st_mtime_ns) for path in steps.iterdir() if path.is_file()}
    assert steps / "attack.pt" in kept

    again = subprocess.run(tiny_command(tmp_path, "--resume"), cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=1800, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumed: the attack step" in again.stderr and "The shipped agent attacks" not in again.stderr
    for path, (sha, modified) in kept.items():  # read back, never written again
        assert digest(path) == sha and path.stat().st_mtime_ns == modified, path
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["status"] == "done" and list(progress["phases"]) == list(robustness.PHASES)
    assert all(p["done"] == p["total"] for p in progress["phases"].values())
    # Every step is seeded (the attacks by input, fine-tuning and the adaptive agent by the run's seed): the
    # resumed run's report is the uninterrupted one's, the hardened weights' hash included.
    _, whole, _ = tiny_run
    assert comparable(json.loads((tmp_path / "report.json").read_text())) == comparable(whole)

    # Other settings are refused, in one line.
    monkeypatch.setitem(robustness.SIZES, "quick", {**robustness.SIZES["quick"], **TINY})
    assert main(tiny_command(tmp_path, "--resume", "--seed", "1")[3:]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {steps} holds a run with other settings (not the same seed); "
                                                    "resume with the same --victim, preset and --seed, or start afresh "
                                                    "without --resume"]


@pytest.mark.slow
def test_the_benchmark_script_quick(tmp_path: Path) -> None:
    out = tmp_path / "robustness-ecg-cnn.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.robustness", "--victim", VICTIM, "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["command"] == f"python -m benchmarks.robustness --victim {VICTIM} --quick"
    assert Path(report["hardened_weights"]) == tmp_path / f"{VICTIM}-hardened.pt"
    table = out.with_suffix(".md").read_text()
    assert "| before (shipped weights) |" in table and "| after (hardened) |" in table


def test_a_victims_own_preset_sizes_apply_to_that_preset_and_give_way_to_overrides() -> None:
    default, full = robustness.SIZES["default"], robustness.SIZES["full"]
    assert robustness.config_for("video-cnn", "default").n_eval < default["n_eval"]
    assert robustness.config_for("video-cnn", "full").n_eval == full["n_eval"]
    assert robustness.config_for("ecg-cnn", "default").n_attack_inputs == default["n_attack_inputs"]
    assert robustness.config_for("video-cnn", "default", n_eval=7).n_eval == 7


# ----------------------------------------------------------- attacking hardened weights afterwards

def test_the_adaptive_agent_records_the_hardened_weights_it_was_trained_against(tiny_run) -> None:
    folder, report, _ = tiny_run
    with zipfile.ZipFile(folder / f"{VICTIM}-hardened-agent.zip") as archive:
        meta = json.loads(archive.read("rlab.json"))
    assert meta["victim_weights_sha256"] == file_sha256(folder / f"{VICTIM}-hardened.pt")
    assert meta["victim_weights_sha256"] == report["hardened_weights_sha256"]


def test_agents_load_only_from_inside_the_repository(tiny_run) -> None:
    folder, _, _ = tiny_run  # under the system's temporary folder
    with pytest.raises(AgentError, match="outside this repository"):
        load_agent(VICTIM, path=folder / f"{VICTIM}-hardened-agent.zip")


def test_the_last_runs_hardened_weights_and_adaptive_agent_are_attacked(tiny_run, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _, _ = tiny_run
    (ROOT / "runs").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "runs") as runs:  # agents load only from inside the repository
        monkeypatch.setattr(victim_module, "HARDENED_RUNS", Path(runs))
        assert weight_choices(VICTIM) == ["shipped", "hardened"]  # the shipped hardened ones only
        with pytest.raises(VictimError, match="no last-run weights .* Robustness page"):
            Victim.builtin(VICTIM, "last-run")
        last_run = robustness.run_folder(VICTIM)
        last_run.mkdir()
        for name in (f"{VICTIM}-hardened.pt", f"{VICTIM}-hardened-agent.zip"):
            shutil.copy(folder / name, last_run / name)
        assert weight_choices(VICTIM) == ["shipped", "hardened", "last-run"]

        hardened = Victim.builtin(VICTIM, "last-run")
        saved = torch.load(last_run / f"{VICTIM}-hardened.pt", weights_only=True)
        assert all(torch.equal(v, saved[k]) for k, v in hardened.network.state_dict().items())
        record = Record()
        agent = load_adaptive_agent(hardened, [record])
        assert record.warnings == []
        sample = get_profile(VICTIM).dataset("test")[0]
        counting = CountingModel(hardened.network)
        on_counting = Victim.like(counting, VICTIM, name=VICTIM, weights="last-run", sha256=hardened.sha256)
        result = RLAttack(agent).run(on_counting, sample.x, sample.y, budget=40)
        assert counting.samples == result.queries_total  # every query went to the hardened network

        # Weights hardened again after the agent was trained: loading the agent says so.
        torch.save(shipped_network().state_dict(), last_run / f"{VICTIM}-hardened.pt")
        load_adaptive_agent(Victim.builtin(VICTIM, "last-run"), [record])
        assert len(record.warnings) == 1 and "trained against other weights" in record.warnings[0]

        # A file that is not this victim's weights gets one clear error.
        (last_run / f"{VICTIM}-hardened.pt").write_bytes(b"not a checkpoint")
        with pytest.raises(VictimError, match="does not hold weights of ecg-cnn"):
            Victim.builtin(VICTIM, "last-run")


def test_pretrained_victims_have_only_their_shipped_weights() -> None:
    assert weight_choices("imagenet-efficientnet-lite0") == ["shipped"]
    with pytest.raises(VictimError, match="pretrained network"):
        Victim.builtin("imagenet-efficientnet-lite0", "hardened")
    with pytest.raises(AgentError, match="attack those, not ecg-cnn's shipped weights"):
        load_adaptive_agent(Victim.builtin(VICTIM))
    with pytest.raises(VictimError, match="unknown weights"):
        weights_file(VICTIM, "latest")


# ----------------------------------------------------------------- config, reports and the hardener

@pytest.mark.parametrize("preset,seed", [("default", 0), ("quick", 0), ("full", 3)])
def test_a_configs_command_line_parses_back_to_the_same_config(preset: str, seed: int) -> None:
    from rlab_core.cli import build_parser

    config = robustness.config_for(VICTIM, preset, seed)
    args = build_parser().parse_args(["robustness", *config.argv()])
    assert (args.modality, args.victim, args.preset, args.seed) == ("ecg", VICTIM, preset, seed)
    assert robustness.config_for(args.victim, args.preset, args.seed) == config
    assert config.command() == " ".join(["python -m rlab_core robustness", *config.argv()])


SHIPPED_REPORTS = sorted((ROOT / "benchmarks").glob("robustness-*.json"))


@pytest.mark.parametrize("path", SHIPPED_REPORTS, ids=lambda path: path.name)
def test_a_report_reads_back_every_shipped_robustness_json_exactly(path: Path) -> None:
    data = json.loads(path.read_text())
    report = robustness.RobustnessReport.from_json(data)
    assert report.to_json() == data
    assert json.dumps(report.to_json()) == json.dumps(data)  # its keys in the same order too
    assert robustness.markdown(report) == path.with_suffix(".md").read_text()
    assert report.before.records("mix") == robustness.records_of(data["before"]["attacks"], "mix")
    assert robustness.comparison_rows(report)[1]["clean accuracy"] == data["after"]["clean_accuracy"]


def test_the_hardener_refuses_what_it_cannot_fine_tune() -> None:
    victim = Victim.builtin(VICTIM)
    agent = load_agent(victim)
    for bad in ({"ratio": 1.0}, {"ratio": -0.1}, {"epochs": 0}, {"lr": 0.0}, {"batch_size": 1}):
        with pytest.raises(robustness.RobustnessError):
            robustness.Hardener(victim, agent, **bad)
    with pytest.raises(robustness.RobustnessError, match="not a victim trained here"):
        robustness.Hardener(Victim.builtin("imagenet-efficientnet-lite0"), agent)
    with pytest.raises(robustness.RobustnessError, match="nothing to fine-tune on"):
        robustness.Hardener(victim, agent).fit(robustness.AdversarialSet(), robustness.AdversarialSet())


def test_the_hardener_fits_a_copy_and_reports_each_batch() -> None:
    """``fit`` trains a copy (the cached network is untouched), starts its history at the shipped
    weights, and tells the callbacks one phase of one step per batch."""
    victim = Victim.builtin(VICTIM)
    shipped = {k: v.clone() for k, v in victim.network.state_dict().items()}
    x, y = get_profile(VICTIM).dataset("train").arrays()
    adversarial = robustness.AdversarialSet(list(x[:16] + 0.1 * torch.randn_like(x[:16])), y[:16].tolist())
    hardener = robustness.Hardener(victim, load_agent(victim), ratio=0.25, epochs=2, patience=2, batch_size=32,
                                   clean_per_epoch=120, seed=1)
    record = Record()
    tuned = hardener.fit(adversarial, adversarial, [record])
    assert all(torch.equal(v, shipped[k]) for k, v in victim.network.state_dict().items())
    assert [entry["epoch"] for entry in tuned.history] == [0, 1, 2] and tuned.history[0]["loss"] is None
    assert tuned.best_epoch == max(tuned.history, key=lambda entry: entry["score"])["epoch"]
    phases = [args for hook, args in record.events if hook == "phase"]
    steps_per_epoch = -(-120 // 24)  # 8 of every 32 are adversarial: 24 clean items a batch
    assert [(name, total) for name, total, _ in phases] == [("fine-tune", 2 * steps_per_epoch)]
    assert sum(1 for hook, _ in record.events if hook == "advance") == 2 * steps_per_epoch
    assert record.events[-1] == ("phase_end", ())
    changed = any(not torch.equal(v, shipped[k]) for k, v in tuned.state.items() if v.is_floating_point())
    assert changed == (tuned.best_epoch > 0)
