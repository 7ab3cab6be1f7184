"""The baselines succeed on an easy victim, and every query they report is a sample the model saw."""
from __future__ import annotations

import pytest
import torch
from counting import count_victim_calls

from rlab_core.attacks import GreedyAttack, RandomOrderAttack
from rlab_core.victims import Victim
from rlab_core.victims.victim import _shipped_network as uncounted_network  # bound before any counting

torch.set_num_threads(1)


def random_attack(victim: str, x, y, filter: str, budget: int, seed: int = 0, prune: bool = True):
    return RandomOrderAttack(filter, prune=prune).run(Victim.builtin(victim), x, y, budget=budget, seed=seed)


def greedy_attack(victim: str, x, y, filter: str, budget: int, seed: int = 0, prune: bool = True):
    return GreedyAttack(filter, prune=prune).run(Victim.builtin(victim), x, y, budget=budget, seed=seed)


@pytest.fixture
def counted(monkeypatch):
    return count_victim_calls(monkeypatch)


def first_correct(victim: str, start: int = 0):
    data = Victim.builtin(victim).dataset("test")
    for i in range(start, len(data)):
        if int(uncounted_network(victim)(data[i].x[None]).argmax()) == data[i].y:
            return data[i]
    raise AssertionError("no correctly classified input")


@pytest.mark.parametrize("baseline", [random_attack, greedy_attack])
@pytest.mark.parametrize("victim", ["ecg-cnn", "image-cnn"])
def test_baseline_fools_an_easy_victim_and_reports_exactly_the_models_samples(counted, baseline, victim) -> None:
    sample = first_correct(victim)
    result = baseline(victim, sample.x, sample.y, "gaussian_noise", budget=1000, seed=0)
    assert result.success and result.adversarial_label != sample.y
    assert result.queries_total == counted[victim].samples
    assert result.queries <= result.queries_total


def test_greedy_pays_one_query_per_candidate_per_step(counted) -> None:
    sample = first_correct("image-cnn")
    result = greedy_attack("image-cnn", sample.x, sample.y, "dead_pixel", budget=5000, seed=0, prune=False)
    adds = sum(step.action == "add" for step in result.trajectory)
    # 1 clean query, then per step a probe of every clean patch (49 - distorted so far) and its additions.
    assert result.queries_total > 49 * (adds // 2)
    assert all(step.action == "add" for step in result.trajectory)  # the published search never removes


def test_budget_is_never_exceeded(counted) -> None:
    sample = first_correct("image-cnn")
    for baseline in (random_attack, greedy_attack):
        result = baseline("image-cnn", sample.x, sample.y, "gaussian_blur", budget=60, seed=1)
        assert result.queries_total <= 60
        assert not result.success or result.queries <= 60


def test_greedy_sends_no_probe_it_cannot_pay_for_whole(counted) -> None:
    """A probe costs 4 x 49 queries here: with 100 left greedy stops before sending any of it."""
    sample = first_correct("image-cnn")
    result = greedy_attack("image-cnn", sample.x, sample.y, "mix", budget=101, seed=0)
    assert not result.success and result.queries_total == counted["image-cnn"].samples == 1
