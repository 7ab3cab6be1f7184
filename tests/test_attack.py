"""The attack loop: honest query counts, a consistent trajectory, the environment's contract,
bring-your-own-filter end to end, and the shipped agents beating random order."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_checker import check_env

from rlab_core import ROOT
from rlab_core.agents.agent import agent_path, load_adaptive_agent, load_agent
from rlab_core.agents.env import PatchAttackEnv
from rlab_core.attacks import RandomOrderAttack, RLAttack, attack_filters
from rlab_core.attacks.distortion import Distortion, default_context
from rlab_core.filters import FILTERS, register_filter, resolve_filters
from rlab_core.victims import DEFAULT_VICTIM, Victim, get_profile

torch.set_num_threads(1)


def correctly_classified(victim: str, n: int) -> list[tuple[torch.Tensor, int]]:
    model = Victim.builtin(victim)
    data, chosen = model.dataset("test"), []
    for i in range(len(data)):
        sample = data[i]
        if model.predict(sample.x) == sample.y:
            chosen.append((sample.x, sample.y))
        if len(chosen) == n:
            return chosen
    return chosen


@pytest.mark.parametrize("victim,cells", [("ecg-cnn", (5,)), ("image-cnn", (4, 4)), ("video-cnn", (1, 2, 2))])
def test_environment_passes_check_env_with_one_query_per_step(victim: str, cells) -> None:
    env = PatchAttackEnv(Victim.builtin(victim), correctly_classified(victim, 3), resolve_filters("mix"), cells,
                         budget=30)
    check_env(env, warn=False)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for step in range(1, 10):
        legal = np.flatnonzero(env.action_masks())
        _, _, terminated, truncated, info = env.step(int(rng.choice(legal)))
        assert info["queries"] == step + 1  # the clean prediction, then one per step
        if terminated or truncated:
            break


def test_masks_forbid_undoing_the_previous_step_and_revisiting() -> None:
    victim = "image-cnn"
    env = PatchAttackEnv(Victim.builtin(victim), correctly_classified(victim, 1), resolve_filters("dead_pixel"),
                         (4, 4), budget=50)
    env.reset(seed=0)
    n, remove = env.grid.n_patches, 1
    env.step(10)  # add dead pixel to patch 10
    assert not env.action_masks()[remove * n + 10]  # undoing the last step
    assert not env.action_masks()[10] and env.action_masks()[11]  # no second filter on a patch
    env.step(11)
    mask = env.action_masks()
    assert not mask[remove * n + 11]  # back to {10}: visited
    assert mask[remove * n + 10]  # on to {11}: new
    _, _, _, truncated, info = env.step(remove * n + 11)  # an unmasked policy taking it anyway
    assert truncated and info.get("illegal") and info["queries"] == 3  # no query was sent


def test_random_attack_counts_every_query_and_its_trajectory_replays_exactly() -> None:
    victim = "image-cnn"
    x, y = correctly_classified(victim, 1)[0]
    result = RandomOrderAttack("mix").run(Victim.builtin(victim), x, y, budget=300, seed=3)
    assert result.success
    steps = result.trajectory
    assert result.queries_total == 1 + len(steps)
    flip = next(s for s in steps if s.misclassified and s.action != "prune")
    assert flip.queries == result.queries
    spec = get_profile(victim)
    filters, strengths = attack_filters(spec, "mix")
    replay = Distortion(x, spec.grid, filters, strengths, seed=3, ctx=default_context(x, spec.modality))
    names = [f.name for f in filters]
    for s in steps:
        if s.action == "add":
            replay.add(s.patch, names.index(s.filter))
        elif s.action == "remove" or (s.action == "prune" and s.kept):
            replay.remove(s.patch)
    assert torch.equal(replay.adversarial(), result.x_adv)
    assert int(replay.mask.sum()) == result.l0_patches <= result.element_mask.numel()


def test_a_distortion_set_is_never_visited_twice() -> None:
    victim = "ecg-cnn"
    x, y = correctly_classified(victim, 1)[0]
    # Blur rarely fools it: a long walk.
    result = RandomOrderAttack("gaussian_blur").run(Victim.builtin(victim), x, y, budget=200, seed=0)
    states, current = [frozenset()], set()
    for s in result.trajectory:
        if s.action in ("add", "remove"):
            (current.add if s.action == "add" else current.discard)(s.patch)
            states.append(frozenset(current))
    assert len(states) == len(set(states))


def test_a_user_filter_runs_end_to_end_with_the_agent() -> None:
    name = "test_invert"
    if name not in FILTERS:
        @register_filter(name, default_strength=1.0, strength_range=(0.0, 1.0), description="x -> 1 - x")
        def invert(patch, strength, rng):
            return patch + strength * (1 - 2 * patch)
    victim = "image-cnn"
    agent = load_agent(victim)
    wins = 0
    for x, y in correctly_classified(victim, 5):
        result = RLAttack(agent, name).run(Victim.builtin(victim), x, y, budget=200, seed=0)
        assert {s.filter for s in result.trajectory} == {name}
        wins += result.success
    assert wins >= 4


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["ecg", "image", "video"])
def test_shipped_agent_fools_90_percent_with_fewer_queries_than_random(modality: str) -> None:
    victim = DEFAULT_VICTIM[modality]
    agent = load_agent(victim)
    inputs = correctly_classified(victim, 20)
    model = Victim.builtin(victim)
    rl = [RLAttack(agent, "mix").run(model, x, y, budget=1000, seed=i) for i, (x, y) in enumerate(inputs)]
    rnd = [RandomOrderAttack("mix").run(model, x, y, budget=1000, seed=i) for i, (x, y) in enumerate(inputs)]
    cap = max(1, int(0.2 * get_profile(victim).grid.n_patches))
    assert all(r.l0_patches <= cap for r in rl)
    assert np.mean([r.success for r in rl]) >= 0.9
    assert np.median([r.queries for r in rl]) < np.median([r.queries for r in rnd])


def test_agent_records_the_victim_weights_it_was_trained_against() -> None:
    import zipfile

    from rlab_core.victims import file_sha256

    for victim in ("ecg-cnn", "image-cnn", "video-cnn"):
        with zipfile.ZipFile(agent_path(victim)) as archive:
            meta = json.loads(archive.read("rlab.json"))
        assert meta["victim_weights_sha256"] == file_sha256(get_profile(victim).weights_path)
        assert meta["command"].startswith(f"python -m rlab_core train-agent --victim {victim}")


def test_attack_cli_json_and_out_folder(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "rlab_core", "attack", "--modality", "image", "--sample", "1", "--json",
                          "--budget", "300", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    for key in ("run", "success", "queries", "queries_total", "l0_patches", "l0_elements", "l2", "linf", "label",
                "adversarial_label", "ssim"):
        assert key in summary
    trajectory = json.loads((tmp_path / "trajectory.json").read_text())
    assert {"step", "action", "filter", "patch", "queries", "true_prob", "top"} <= trajectory[0].keys()
    for name in ("result.json", "adversarial.npy", "adversarial.png", "mask.npy", "mask.png"):
        assert (tmp_path / name).is_file()
    assert np.load(tmp_path / "adversarial.npy").shape == (1, 28, 28)


def test_attack_cli_on_the_hardened_weights_with_the_adaptive_agent() -> None:
    from rlab_core.victims import file_sha256, hardened_path

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rlab_core", "attack", "--modality", "ecg", "--sample", "3",
                               "--budget", "200", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    out = cli("--weights", "hardened", "--attacker", "adaptive", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["weights"], summary["attacker"]) == ("hardened", "adaptive")
    assert summary["run"]["victim_weights_sha256"] == file_sha256(hardened_path("ecg-cnn"))
    # The same attack run in-process, on the hardened network with the adaptive agent.
    sample = get_profile("ecg-cnn").dataset("test")[3]
    hardened = Victim.builtin("ecg-cnn", "hardened")
    expected = RLAttack(load_adaptive_agent(hardened)).run(hardened, sample.x, sample.y, budget=200)
    assert (summary["success"], summary["queries"], summary["adversarial_label"]) == (
        expected.success, expected.queries, expected.adversarial_label)

    for args, message in ((("--attacker", "adaptive"), "attack those, not ecg-cnn's shipped weights"),
                          (("--weights", "hardened", "--victim", "ecg-loc-cnn"), "no hardened weights")):
        out = cli(*args)
        [line] = out.stderr.strip().splitlines()
        assert out.returncode == 2 and line.startswith("error: ") and message in line, out.stderr
