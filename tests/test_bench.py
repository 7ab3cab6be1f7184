"""The benchmark: ART's baselines in the harness, the matched distortion, Ray, the CLI, resuming."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from counting import count_victim_calls
from killing import kill_when
from torch import nn

from rlab_core import ROOT, options
from rlab_core.attacks import GreedyAttack, RandomOrderAttack, SimBAAttack, SquareAttack, SquareLinfAttack
from rlab_core.attacks.art_bridge import VictimModule, fold_length, image_shape
from rlab_core.bench import (
    BenchConfig,
    BenchError,
    BenchReport,
    markdown,
    median_rl_l2,
    run_bench,
    run_sample,
    sample_seed,
)
from rlab_core.callbacks import Record
from rlab_core.cli import build_parser, main
from rlab_core.victims import BlackBox, Victim
from rlab_core.victims.victim import _shipped_network as uncounted_network  # bound before any counting

torch.set_num_threads(1)

# ecg-cnn with illuminate at 40 queries: rl fools its first 3 correct test beats and fails on the 4th.
ECG = {"victim": "ecg-cnn", "filter": "illuminate", "budget": 40}


@pytest.fixture
def counted(monkeypatch):
    return count_victim_calls(monkeypatch)


def top1(victim: str, x: torch.Tensor) -> int:
    """The shipped network's top-1, not counted."""
    return int(uncounted_network(victim)(x[None]).argmax())


def first_correct(victim: str):
    data = Victim.builtin(victim).dataset("test")
    return next(data[i] for i in range(len(data)) if top1(victim, data[i].x) == data[i].y)


def square_attack(victim: str, x, y, eps: float, budget: int, seed: int, reuse_answers: bool = True):
    return SquareAttack(eps, reuse_answers=reuse_answers).run(Victim.builtin(victim), x, y, budget=budget, seed=seed)


def simba_attack(victim: str, x, y, l2_limit: float, budget: int, seed: int):
    return SimBAAttack(l2_limit).run(Victim.builtin(victim), x, y, budget=budget, seed=seed)


BASELINES = {
    "square": lambda v, x, y, budget: square_attack(v, x, y, 3.0, budget, seed=1),
    "square_linf": lambda v, x, y, budget: SquareLinfAttack().run(Victim.builtin(v), x, y, budget=budget, seed=1),
    "simba": lambda v, x, y, budget: simba_attack(v, x, y, 4.0, budget, seed=1),
    "greedy": lambda v, x, y, budget: GreedyAttack("gaussian_noise").run(Victim.builtin(v), x, y, budget=budget, seed=1),
    "random": lambda v, x, y, budget: RandomOrderAttack("gaussian_noise").run(Victim.builtin(v), x, y, budget=budget,
                                                                              seed=1),
}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_baseline_fools_an_easy_victim_and_reports_exactly_the_models_samples(counted, name) -> None:
    sample = first_correct("image-cnn")
    result = BASELINES[name]("image-cnn", sample.x, sample.y, 1000)
    assert result.attack == name and result.success and result.adversarial_label != sample.y
    assert top1("image-cnn", result.x_adv) != sample.y
    assert result.queries_total == counted["image-cnn"].samples
    assert 2 <= result.queries <= result.queries_total <= 1000
    assert 0 < result.l2 and 0 < result.linf <= 1 and result.l0_patches >= 1 and 0 < result.ssim < 1
    if name in ("square", "square_linf", "simba"):
        # ART is stopped at the first misclassified sample: it never spends a query after the flip.
        assert result.queries == result.queries_total
        assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    if name == "square":
        assert result.l2 <= 3.0 + 1e-4
    if name == "square_linf":
        assert result.linf <= 0.05 + 1e-6


def test_without_reusing_answers_every_sample_art_asks_for_is_a_query(counted) -> None:
    sample = first_correct("image-cnn")
    result = square_attack("image-cnn", sample.x, sample.y, 1.5, 300, seed=0, reuse_answers=False)
    assert result.details["estimator_calls"] == result.queries_total == counted["image-cnn"].samples
    reused = square_attack("image-cnn", sample.x, sample.y, 1.5, 300, seed=0)
    assert reused.queries_total < reused.details["estimator_calls"]  # ART asks twice for what it knows


def test_budget_and_l2_limit_end_an_art_attack_as_a_failure_at_the_budget(counted) -> None:
    sample = first_correct("image-cnn")
    short = square_attack("image-cnn", sample.x, sample.y, 0.3, 6, seed=0)
    assert not short.success and short.queries == 6 and short.queries_total == counted["image-cnn"].samples <= 6
    before = counted["image-cnn"].samples
    held = simba_attack("image-cnn", sample.x, sample.y, 0.3, 1000, seed=0)  # at most two steps of 0.2
    assert not held.success and held.queries == 1000
    assert held.queries_total == counted["image-cnn"].samples - before < 1000
    assert held.l2 <= 0.3 + 1e-5


def test_a_nan_sample_is_refused_without_a_query_and_answered_nan() -> None:
    black_box = BlackBox(Victim(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), (1, 4), ("a", "b", "c"), patch_size=(2,)),
                         budget=10)
    module = VictimModule(black_box, torch.zeros(1, 4))
    assert module.ask(torch.zeros(1, 4)).shape == (3,) and black_box.queries == 1
    out = module(torch.tensor([[[float("nan"), 0.0, 0.0, 0.0]]]))
    assert torch.isnan(out).all() and black_box.queries == 1 and module.invalid == 1
    module(torch.zeros(1, 1, 4))  # a repeat: answered from memory
    assert black_box.queries == 1 and module.calls == 2


def test_ecg_and_video_go_through_the_same_art_attacks_as_images() -> None:
    assert fold_length(140) == (10, 14) and fold_length(560) == (20, 28)
    assert image_shape((1, 140)) == (1, 10, 14)
    assert image_shape((1, 28, 28)) == (1, 28, 28)
    assert image_shape((3, 8, 224, 224)) == (24, 224, 224)
    with pytest.raises(ValueError, match="cannot be folded"):
        fold_length(139)
    for victim, eps in (("ecg-cnn", 1.5), ("video-cnn", 17.0)):
        sample = first_correct(victim)
        for result in (square_attack(victim, sample.x, sample.y, eps, 300, seed=0),
                       simba_attack(victim, sample.x, sample.y, eps, 60, seed=0)):
            assert result.x_adv.shape == sample.x.shape and result.queries_total <= 300
            assert result.l2 <= eps + 1e-4
            assert (result.snr_db is not None) == (victim == "ecg-cnn")
    assert result.success or result.queries == 60


def test_sample_seeds_depend_only_on_the_run_seed_and_the_index() -> None:
    assert sample_seed(0, 5) == sample_seed(0, 5)
    assert len({sample_seed(s, i) for s in range(3) for i in range(50)}) == 150


def test_matched_distortion_is_rls_l2_or_rls_median_l2_where_rl_failed(tmp_path) -> None:
    config = BenchConfig(attacks=("rl", "square", "simba"), n=4, **ECG)
    report = run_bench(config, tmp_path / "m.json")
    assert BenchReport.from_json(json.loads((tmp_path / "m.json").read_text())) == report  # the file is the report
    rl = {r["index"]: r for r in report.samples if r["attack"] == "rl"}
    assert sum(r["success"] for r in rl.values()) == 3  # the fixture this test relies on
    median = float(np.median([r["l2"] for r in rl.values() if r["success"]]))
    assert report.rl_median_l2 == pytest.approx(median, abs=1e-6)
    for r in report.samples:
        if r["attack"] == "rl":
            continue
        value = r["eps"] if r["attack"] == "square" else r["l2_limit"]
        if rl[r["index"]]["success"]:
            assert r["matched_to"] == "rl" and value == rl[r["index"]]["l2"]
        else:
            assert r["matched_to"] == "rl_median" and value == pytest.approx(median, abs=1e-6)
        assert not r["success"] or r["l2"] <= value + 1e-4
    # One sample on its own, as a Ray task would run it, gives the same records.
    index = next(i for i, r in rl.items() if not r["success"])
    alone = run_sample(config, index, ["square", "simba"], rl[index], report.rl_median_l2)
    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(alone) == strip([r for r in report.samples if r["index"] == index and r["attack"] != "rl"])


def test_resume_runs_only_the_samples_not_done(tmp_path) -> None:
    out = tmp_path / "r.json"
    config = BenchConfig(attacks=("rl", "random", "square"), n=2, **ECG)
    first = run_bench(config, out)
    lines = out.with_suffix(".jsonl").read_text().splitlines()
    assert len(lines) == 1 + 2 * 3
    again = run_bench(BenchConfig(attacks=config.attacks, n=3, **ECG), out, resume=True)
    new = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()[len(lines):]]
    assert len(new) == 3 and len({r["index"] for r in new}) == 1
    assert new[0]["index"] not in {r["index"] for r in first.samples}
    assert again.inputs == 3 and len(again.samples) == 9
    assert again.samples[:6] == first.samples
    with pytest.raises(BenchError, match="other settings"):
        run_bench(BenchConfig(attacks=config.attacks, n=3, victim="ecg-cnn", filter="mix", budget=40), out, resume=True)


def without_seconds(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_resume_drops_a_last_record_cut_short_and_redoes_only_it(tmp_path) -> None:
    out, told = tmp_path / "cut.json", Record()
    config = BenchConfig(attacks=("rl", "random"), n=2, **ECG)
    whole = run_bench(config, out)
    records = out.with_suffix(".jsonl")
    lines = records.read_text().splitlines(keepends=True)
    assert len(lines) == 1 + 4
    records.write_text("".join(lines[:-1]) + lines[-1][:len(lines[-1]) // 2])  # killed while writing the last record
    again = run_bench(config, out, resume=True, callbacks=[told])
    assert any("dropped the last line" in line for line in told.messages)
    assert any("3 sample records done" in line for line in told.messages)
    # The phase counts every attack of every input, the three read back at once, then the one redone.
    counts = [args for event, args in told.events if event in ("phase", "advance", "phase_end")]
    assert counts[0][:2] == ("attacks", 4) and counts[1] == (3, None)
    assert counts[2][0] == 1 and counts[2][1].startswith("[1/1] input ") and counts[3:] == [()]
    kept = records.read_text().splitlines(keepends=True)
    assert kept[:-1] == lines[:-1] and len(kept) == len(lines)  # the cut record redone, once, on a line of its own
    assert without_seconds([json.loads(kept[-1])]) == without_seconds([json.loads(lines[-1])])
    assert without_seconds(again.samples) == without_seconds(whole.samples)
    # A damaged line anywhere else is not taken for a cut one.
    records.write_text("".join(lines[:2]) + "{not json\n" + "".join(lines[2:]))
    with pytest.raises(BenchError, match="line 3, is not a record"):
        run_bench(config, out, resume=True)


def test_a_killed_bench_resumes_where_it_was(tmp_path) -> None:
    """``bench`` killed (SIGKILL) once some inputs are done, then run again with ``--resume``: the
    records are those of a run never stopped, and the inputs done before the kill are not redone."""
    config = BenchConfig(attacks=("rl", "greedy", "random"), n=6, budget=100, filter="illuminate", victim="ecg-cnn")
    out, records = tmp_path / "killed.json", tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "rlab_core", "bench", *config.argv(), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(first, lambda: records.exists() and records.read_text().count("\n") >= 2,  # the settings line and one record
              300, lambda: "the run ended before it could be killed", poll=0.02)
    before = records.read_text()
    complete = before[:before.rfind("\n") + 1]  # without a record the kill cut short, if any
    finished = [json.loads(line) for line in complete.splitlines()[1:]]
    assert not out.exists() and 1 <= len(finished) < config.n * len(config.attacks)

    again = subprocess.run([*command, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} sample records done" in again.stderr
    after = records.read_text()
    assert after.startswith(complete)
    rerun = [json.loads(line) for line in after[len(complete):].splitlines()]
    assert {(r["index"], r["attack"]) for r in rerun}.isdisjoint((r["index"], r["attack"]) for r in finished)
    resumed = json.loads(out.read_text())
    uninterrupted = run_bench(config, tmp_path / "whole.json")
    assert without_seconds(resumed["samples"]) == without_seconds(uninterrupted.samples)
    assert len(resumed["samples"]) == len(after.splitlines()) - 1 == config.n * len(config.attacks)


def test_median_l2_falls_back_to_all_of_rl_when_it_never_succeeded() -> None:
    rows = [{"attack": "rl", "success": False, "l2": v} for v in (1.0, 2.0, 4.0)]
    assert median_rl_l2(rows) == 2.0
    assert median_rl_l2(rows + [{"attack": "rl", "success": True, "l2": 0.5}]) == 0.5


def test_cli_bench_writes_the_contracts_json_table_and_plot(tmp_path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "rlab_core", "bench", "--modality", "ecg", "--attacks",
                           "rl,greedy,random,square,square_linf,simba", "--n", "2", "--budget", "60", "--seed", "3",
                           "--out", str(out)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| attack |" in done.stdout and "square_linf" in done.stdout
    report = json.loads(out.read_text())
    assert {"run", "rows", "samples", "curves"} <= report.keys() and report["run"]["seed"] == 3
    assert [row["attack"] for row in report["rows"]] == ["rl", "greedy", "random", "square", "square_linf", "simba"]
    for row in report["rows"]:
        assert {"attack", "success_rate", "mean_queries", "median_queries", "mean_l0_patches", "mean_l2", "mean_linf",
                "seconds_per_sample"} <= row.keys()
    assert len(report["samples"]) == 12
    for r in report["samples"]:
        assert {"index", "attack", "success", "queries", "l0_patches", "l2", "linf", "seconds"} <= r.keys()
        assert r["queries"] <= 60 and (r["success"] or r["queries"] == 60)
    curve = report["curves"]["rl"]
    assert curve["queries"][0] == 1 and curve["queries"][-1] == 60 and curve["success_rate"] == sorted(curve["success_rate"])
    assert out.with_suffix(".md").read_text().startswith("# Benchmark")
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["--attacks", "rl,fgsm"], "unknown attack"),
    (["--attacks", "random,square"], "need rl"),
    (["--attacks", "rl", "--n", "0"], "--n"),
    (["--attacks", "rl", "--budget", "1"], "--budget"),
    (["--attacks", "rl", "--ray", "--ray-address", "h:6379"], "not allowed with"),
    (["--attacks", "rl", "--filter", "sepia"], "sepia"),
    (["--attacks", "rl", "--victim", "image-cnn"], "for image"),
])
def test_cli_bench_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message) -> None:
    code = main(["bench", "--modality", "ecg", *args, "--out", str(tmp_path / "b.json")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()


def test_a_configs_argv_read_back_by_the_bench_command_is_the_same_config(tmp_path) -> None:
    configs = (BenchConfig("ecg-cnn"), BenchConfig("ecg-cnn", ("random",)),
               BenchConfig("image-cnn", ("rl", "square"), n=7, budget=300, seed=2, filter="illuminate,gaussian_noise",
                           model=tmp_path / "mine.onnx"))
    for config in configs:
        args = build_parser().parse_args(["bench", *config.argv(), "--out", str(tmp_path / "b.json")])
        assert options.from_args(BenchConfig, args, victim=args.victim) == config
        assert config.command("b.json") == " ".join(["python -m rlab_core bench", *config.argv(), "--out b.json"])


SHIPPED = sorted((ROOT / "benchmarks").glob("bench-*.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_a_report_reads_back_every_shipped_bench_json_exactly(path) -> None:
    data = json.loads(path.read_text())
    report = BenchReport.from_json(data)
    assert report.to_json() == data
    assert json.dumps(report.to_json()) == json.dumps(data)  # its keys in the same order too
    assert markdown(report, path.with_suffix(".png").name) == path.with_suffix(".md").read_text()


@pytest.mark.slow
def test_ray_runs_give_the_same_records_as_in_process(tmp_path) -> None:
    ray = pytest.importorskip("ray")
    config = BenchConfig(attacks=("rl", "greedy", "random", "square", "square_linf", "simba"), n=4, **ECG)
    local = run_bench(config, tmp_path / "local.json")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_bench(config, tmp_path / "ray.json", use_ray=True)
    finally:
        ray.shutdown()
    assert remote.machine.count("Ray") == 1 and "in-process" in local.machine

    def strip(report: BenchReport) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in report.samples]

    assert strip(remote) == strip(local) and len(strip(local)) == 24
    assert [{k: v for k, v in row.items() if k != "seconds_per_sample"} for row in remote.rows] == \
           [{k: v for k, v in row.items() if k != "seconds_per_sample"} for row in local.rows]
