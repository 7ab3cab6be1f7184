"""The public API a notebook uses: ``Victim``, the four verbs, the attack registry and its protocol,
the README's example, a command line that starts light, and the code's own lint and type checks."""
from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rlab_core as rlab
from rlab_core import ROOT
from rlab_core.attacks import ATTACKS, Attack, make_attack, parameters
from rlab_core.cli import COMMANDS
from rlab_core.victims import PROFILES, BlackBox, Victim, VictimError, file_sha256, get_profile

VERBS = ("attack", "explain", "benchmark", "harden")


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = re.fullmatch(r"(.+) -> (.+): fooled (True|False) after (\d+) queries, (\d+) patches\n", out.stdout)
    assert line is not None, out.stdout
    assert 1 <= int(line[4]) <= 500
    mask = np.load(tmp_path / "mask.npy")
    assert mask.shape == (28, 28) and mask.dtype == bool
    assert (int(line[5]) > 0) == bool(mask.any())


def test_the_package_exports_victim_and_the_verbs_and_no_verb_is_also_a_subpackage() -> None:
    assert {"Victim", "BlackBox", *VERBS} <= set(rlab.__all__)
    for verb in VERBS:
        assert inspect.isfunction(getattr(rlab, verb)), verb
        assert importlib.util.find_spec(f"rlab_core.{verb}") is None, f"rlab_core.{verb} is also a module"


# ------------------------------------------------------------------------------------- Victim
def test_a_builtin_victim_holds_its_profile_and_the_hash_of_its_weights() -> None:
    victim = Victim.builtin("image-cnn")
    profile = get_profile("image-cnn")
    assert (victim.input_shape, victim.class_names, victim.modality) == (profile.input_shape, profile.class_names,
                                                                         profile.modality)
    assert victim.grid.patch_size == profile.patch_size and victim.grid.n_patches == 49
    assert victim.sha256 == file_sha256(profile.weights_path) and victim.white_box
    assert victim.probabilities(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(VictimError, match="unknown weights"):
        Victim.builtin("image-cnn", "newest")
    with pytest.raises(VictimError, match="unknown victim"):
        Victim.builtin("no-such-victim")


def test_every_profile_gives_a_grid_of_its_own_input() -> None:
    for profile in PROFILES.values():
        assert profile.grid.input_shape == profile.input_shape
        assert profile.agent_recipe is not None or profile.agent != ""  # an agent of its own or a lent one


def test_a_torch_module_is_hashed_by_its_weights_and_a_bare_callable_by_nothing() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    first = Victim.from_torch(module, like="image-cnn")
    assert first.sha256 == Victim.from_torch(module, like="image-cnn").sha256
    with torch.no_grad():
        module[1].bias.add_(1.0)
    assert Victim.from_torch(module, like="image-cnn").sha256 != first.sha256
    bare = Victim(lambda x: x.flatten(1)[:, :3], (1, 4, 4), ("a", "b", "c"), patch_size=(2, 2))
    assert bare.sha256 is None and bare.record()["weights_sha256"] is None and not bare.white_box
    assert bare.modality == "image" and bare.grid.n_patches == 4
    with pytest.raises(VictimError, match="torch.nn.Module"):
        Victim.from_torch(lambda x: x, like="image-cnn")  # type: ignore[arg-type]
    with pytest.raises(VictimError, match="say which"):
        Victim(bare.network, (1, 2, 3, 4, 5), ("a",), patch_size=(1, 1, 1, 1))


def test_the_black_box_wraps_a_victim_and_counts_what_reaches_it() -> None:
    seen = []

    def network(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return x.flatten(1)[:, :3]

    box = BlackBox(Victim(network, (1, 4, 4), ("a", "b", "c"), patch_size=(2, 2)), budget=5)
    box.probs(torch.rand(1, 4, 4))
    box.probs(torch.rand(3, 1, 4, 4))
    assert box.queries == sum(seen) == 4
    with pytest.raises(TypeError, match="wraps a Victim"):
        BlackBox(network)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- the registry
def test_the_registry_is_every_attack_and_each_declares_and_checks_its_parameters() -> None:
    assert set(ATTACKS) == {"rl", "adaptive", "random", "greedy", "square", "square_linf", "simba"}
    for name, cls in ATTACKS.items():
        assert issubclass(cls, Attack) and cls.name == name
    assert parameters("square") == ["eps", "p_init", "reuse_answers"]
    with pytest.raises(ValueError, match="takes no parameter filter"):
        make_attack("square", eps=1.0, filter="mix")
    with pytest.raises(ValueError, match="needs eps"):
        make_attack("square")
    with pytest.raises(ValueError, match="eps must be positive"):
        make_attack("square_linf", eps=0)
    with pytest.raises(ValueError, match="l2_limit must be positive"):
        make_attack("simba", l2_limit=-1)
    with pytest.raises(ValueError, match="single filter"):
        make_attack("random", filter="mix", strength=0.5)
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("fgsm")


@pytest.mark.parametrize("name", sorted(set(ATTACKS) - {"adaptive"}))
def test_every_attack_runs_through_one_protocol_and_reports_the_black_boxs_count(name: str) -> None:
    shipped = Victim.builtin("image-cnn")
    seen = []

    def counted(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return shipped.network(x)

    victim = Victim.like(counted, "image-cnn", name="counted", weights="callable", sha256=None)
    sample = victim.dataset("test")[0]
    params = {"eps": 1.0} if name == "square" else {"l2_limit": 2.0} if name == "simba" else {}
    record = rlab.Record()
    result = rlab.attack(victim, sample.x, sample.y, method=name, budget=500, seed=0, callbacks=[record],
                         **params)
    assert result.attack == name and result.queries_total == sum(seen) <= 500
    assert result.label == sample.y and result.x_adv.shape == sample.x.shape
    if ATTACKS[name].uses_patches:
        # Every step reaches the callbacks as it happens (a pruned removal is marked kept=False only later).
        steps = record.steps
        assert [(s.step, s.action, s.patch) for s in steps] == [(s.step, s.action, s.patch) for s in result.trajectory]
        assert steps
    else:
        with pytest.raises(ValueError, match="no patch cap"):
            rlab.attack(victim, sample.x, method=name, max_patches=3, **params)
    with pytest.raises(TypeError, match="runs on a Victim"):
        make_attack(name, **params).run(shipped.network, sample.x)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the command line
def test_every_command_is_one_module_that_declares_and_runs() -> None:
    for name, (module, _help) in COMMANDS.items():
        imported = importlib.import_module(module)
        assert callable(imported.add_arguments) and callable(imported.run), name


def test_predict_starts_without_the_agents_ART_or_torchvision_models() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "rlab_core", "predict", "--modality", "image",
                          "--sample", "0", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "rlab_core.victims" in modules  # the check reads the import log at all
    heavy = {"stable_baselines3", "sb3_contrib", "gymnasium", "art", "torchvision.models", "captum", "streamlit"}
    assert not heavy & modules


# ------------------------------------------------------------------------------------ the code
@pytest.mark.slow
def test_ruff_and_mypy_pass_as_configured_in_pyproject() -> None:
    for command in (["ruff", "check", "."], ["mypy"]):
        out = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{' '.join(command)}:\n{out.stdout[-4000:]}{out.stderr[-2000:]}"
