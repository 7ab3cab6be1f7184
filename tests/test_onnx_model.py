"""Bring your own model: an ONNX classifier in place of a victim's network (rlab_core/victims/onnx_model.py).

The models are the shipped victims exported by the tests themselves (fresh copies: exporting
switches a module's training mode), so their answers must match the shipped networks'.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from counting import CountingModel
from torch import nn

from rlab_core import ROOT
from rlab_core.agents.agent import load_agent
from rlab_core.attacks import RLAttack
from rlab_core.robustness import shipped_copy
from rlab_core.victims import Victim, VictimError, file_sha256, get_profile
from rlab_core.victims.onnx_model import load_onnx

torch.set_num_threads(1)

VICTIM = "ecg-cnn"


class Probabilities(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).softmax(dim=-1)


class FirstClasses(nn.Module):
    """The network's scores for its first three classes only: the wrong number of classes."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)[:, :3]


class NotANumber(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :5] * float("nan")


def export(module: nn.Module, path: Path, shape: tuple[int, ...], batch: int | None = None) -> Path:
    """``module`` as ONNX at ``path``, with a dynamic batch axis unless ``batch`` fixes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module.eval(), torch.rand(batch or 1, *shape), path, dynamo=False, input_names=["x"],
                          output_names=["scores"], dynamic_axes=None if batch else {"x": {0: "batch"}})
    return path


def fresh(victim: str) -> nn.Module:
    return shipped_copy(victim)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    shape = get_profile(VICTIM).input_shape
    return {
        "logits": export(fresh(VICTIM), folder / "logits.onnx", shape),
        "probabilities": export(Probabilities(fresh(VICTIM)), folder / "probabilities.onnx", shape),
        "batch of one": export(fresh(VICTIM), folder / "batch1.onnx", shape, batch=1),
        "batch of four": export(fresh(VICTIM), folder / "batch4.onnx", shape, batch=4),
        "three classes": export(FirstClasses(fresh(VICTIM)), folder / "three.onnx", shape),
        "NaN scores": export(NotANumber(), folder / "nan.onnx", shape),
        "an image model": export(fresh("image-cnn"), folder / "image.onnx", get_profile("image-cnn").input_shape),
    }


@pytest.mark.parametrize("kind", ["logits", "probabilities", "batch of one"])
def test_an_exported_victim_answers_as_the_shipped_network(models: dict[str, Path], kind: str) -> None:
    model = load_onnx(models[kind].read_bytes(), get_profile(VICTIM))
    assert model.outputs_probabilities == (kind == "probabilities")
    inputs = torch.stack([get_profile(VICTIM).dataset("test")[i].x for i in range(20)])
    on_onnx = Victim.like(model, VICTIM, name="model.onnx", weights="onnx", sha256=model.sha256)
    torch.testing.assert_close(torch.from_numpy(on_onnx.probabilities(inputs)),
                               torch.from_numpy(Victim.builtin(VICTIM).probabilities(inputs)), atol=1e-5, rtol=1e-4)


def test_the_attack_on_the_onnx_model_is_the_attack_on_the_shipped_network(models: dict[str, Path]) -> None:
    model = CountingModel(load_onnx(models["probabilities"].read_bytes(), get_profile(VICTIM)))
    rl, sample = RLAttack(load_agent(VICTIM)), get_profile(VICTIM).dataset("test")[3]
    on_onnx = rl.run(Victim.like(model, VICTIM, name="probabilities.onnx", weights="onnx", sha256=None), sample.x,
                     sample.y, budget=200)
    shipped = rl.run(Victim.builtin(VICTIM), sample.x, sample.y, budget=200)
    assert model.samples == on_onnx.queries_total  # every query went to the uploaded model
    assert [(s.action, s.patch) for s in on_onnx.trajectory] == [(s.action, s.patch) for s in shipped.trajectory]
    assert on_onnx.success == shipped.success and on_onnx.queries == shipped.queries


@pytest.mark.parametrize(("kind", "message"), [
    ("batch of four", "batches of exactly 4"),
    ("three classes", "ecg-cnn has 5 classes"),
    ("NaN scores", "NaN or infinite"),
    ("an image model", r"takes inputs of shape \(batch, 1, 28, 28\); ecg-cnn's are \(batch, 1, 140\)"),
])
def test_a_model_that_does_not_fit_the_victim_gets_one_clear_error(models: dict[str, Path], kind: str, message: str) -> None:
    with pytest.raises(VictimError, match=message):
        load_onnx(models[kind].read_bytes(), get_profile(VICTIM), models[kind].name)


def test_files_that_are_not_onnx_models_are_refused() -> None:
    spec = get_profile(VICTIM)
    with pytest.raises(VictimError, match="empty"):
        load_onnx(b"", spec)
    for data in (b"not a model" * 50, spec.weights_path.read_bytes(), spec.weights_path.read_bytes()[:1000]):
        with pytest.raises(VictimError, match="is not an ONNX model"):
            load_onnx(data, spec, "upload.onnx")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlab_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


def test_cli_predict_and_attack_with_an_onnx_model(models: dict[str, Path], tmp_path: Path) -> None:
    out = run_cli("attack", "--modality", "ecg", "--sample", "3", "--budget", "200", "--model", str(models["logits"]),
                  "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    shipped = json.loads(run_cli("attack", "--modality", "ecg", "--sample", "3", "--budget", "200", "--json").stdout)
    assert summary["model"]["file"] == "logits.onnx"
    assert summary["run"]["victim_weights_sha256"] == summary["model"]["sha256"] != shipped["run"]["victim_weights_sha256"]
    assert (summary["success"], summary["queries"]) == (shipped["success"], shipped["queries"])

    renamed = tmp_path / "weights.onnx"
    renamed.write_bytes(get_profile(VICTIM).weights_path.read_bytes())
    for args, message in ((["--model", str(get_profile(VICTIM).weights_path)], "from an .onnx file only"),
                          (["--model", str(renamed)], "is not an ONNX model"),
                          (["--model", str(tmp_path / "missing.onnx")], "no such file"),
                          (["--model", str(models["an image model"])], "takes inputs of shape")):
        out = run_cli("predict", "--modality", "ecg", "--sample", "0", *args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and message in lines[0], out.stderr
    out = run_cli("attack", "--modality", "ecg", "--sample", "0", "--model", str(models["logits"]), "--weights", "hardened")
    assert out.returncode == 2 and "does not go with --weights" in out.stderr


def test_the_attack_pages_run_on_an_uploaded_model(models: dict[str, Path]) -> None:
    from rlab_app.state.attacks import AttackSettings, attack_files, run_attack
    from rlab_app.state.victims import ONNX, onnx_model, top_classes

    sample = get_profile(VICTIM).dataset("test")[3]
    model = onnx_model(VICTIM, models["logits"].read_bytes(), "logits.onnx")
    settings = AttackSettings(budget=200, weights=ONNX)
    result = run_attack(VICTIM, sample.x, sample.y, settings, model=model)
    assert result.queries == RLAttack(load_agent(VICTIM)).run(Victim.builtin(VICTIM), sample.x, sample.y, budget=200).queries
    for (name, p), (shipped_name, shipped_p) in zip(top_classes(VICTIM, sample.x, model=model),
                                                    top_classes(VICTIM, sample.x)):
        assert name == shipped_name and p == pytest.approx(shipped_p, abs=1e-5)
    files = attack_files(VICTIM, sample, settings, result, model)
    summary = json.loads(next(data for name, (data, _) in files.items() if name.endswith("result.json")))
    assert summary["model"] == {"file": "logits.onnx", "sha256": model.sha256, "format": "onnx"}
    assert summary["run"]["victim_weights_sha256"] == model.sha256
    with pytest.raises(ValueError, match="only with it"):
        run_attack(VICTIM, sample.x, sample.y, settings)


def test_cli_explain_with_an_onnx_model_uses_the_black_box_methods(models: dict[str, Path]) -> None:
    model = str(models["logits"])
    out = run_cli("explain", "--modality", "ecg", "--sample", "0", "--budget", "30", "--model", model, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    # The black-box methods, and the controls beside them (no ground truth: not the one that reads it).
    assert list(summary["methods"]) == ["rl", "rl_hard", "occlusion", "model_free", "edges", "random"]
    assert summary["weights"] == "onnx"
    assert not any(entry["white_box"] for entry in summary["methods"].values())
    out = run_cli("explain", "--modality", "ecg", "--sample", "0", "--model", model, "--methods", "rl,ig")
    [line] = out.stderr.strip().splitlines()
    assert out.returncode == 2 and line == ("error: ig read the network's gradients, and logits.onnx is an ONNX black "
                                            "box: choose from rl, rl_hard, occlusion, feature_ablation, shapley, "
                                            "kernel_shap, lime, rise, model_free, edges, random, model_free_in_cell")


def test_bench_compares_every_attack_on_an_onnx_model(models: dict[str, Path], tmp_path: Path) -> None:
    from rlab_core.bench import BenchConfig, BenchError, run_bench

    attacks = ("rl", "greedy", "random", "square", "simba")
    on_onnx = run_bench(BenchConfig(VICTIM, attacks, n=3, budget=150, model=models["logits"]), tmp_path / "onnx.json")
    shipped = run_bench(BenchConfig(VICTIM, attacks, n=3, budget=150), tmp_path / "shipped.json")
    assert on_onnx.run["victim_weights_sha256"] == file_sha256(models["logits"])
    assert on_onnx.command.endswith(f"--model {models['logits']} --out {tmp_path / 'onnx.json'}")
    outcome = {(r["index"], r["attack"]): (r["success"], r["queries"]) for r in shipped.samples}
    assert {(r["index"], r["attack"]): (r["success"], r["queries"]) for r in on_onnx.samples} == outcome
    with pytest.raises(BenchError, match="takes inputs of shape"):
        BenchConfig(VICTIM, attacks, model=models["an image model"]).check()
    with pytest.raises(BenchError, match="from an .onnx file only"):
        BenchConfig(VICTIM, attacks, model=get_profile(VICTIM).weights_path).check()
