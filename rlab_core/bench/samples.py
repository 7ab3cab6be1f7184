"""One input under every attack: which inputs, their seeds, the matched distortion, the records.

:func:`run_sample` is the unit of work: the Ray task and the local step alike, so a sample's
figures do not depend on where it ran.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from rlab_core.attacks.registry import ATTACKS as REGISTRY
from rlab_core.attacks.registry import make_attack, parameters
from rlab_core.attacks.result import AttackResult
from rlab_core.bench.config import ART_ATTACKS, MATCHED, BenchConfig, BenchError
from rlab_core.victims import Victim, VictimError, get_profile

FLOAT_DIGITS = 6  # the records' floats, rounded so that a rerun writes the same text
RECORD_KEYS = ("success", "already_misclassified", "queries", "queries_total", "l0_patches", "l0_elements", "l2", "linf",
               "ssim", "snr_db", "label", "adversarial_label", "remove_rate", "seconds")


def sample_seed(seed: int, index: int) -> int:
    """The seed of test item ``index`` in a run with ``seed``: the same wherever and whenever it runs."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


# Cached: a run (or a Ray worker) loads its test split, network and agent once, not once per sample.
@lru_cache(maxsize=4)
def _test_split(victim: str):
    return get_profile(victim).dataset("test")


@lru_cache(maxsize=2)
def attacked_victim(victim: str, model: Path | None) -> Victim:
    """The victim attacked: built-in ``victim``, or the ONNX model at path ``model`` shaped like it."""
    try:
        return Victim.builtin(victim) if model is None else Victim.from_onnx(model, like=victim)
    except VictimError as err:
        raise BenchError(str(err)) from None


@lru_cache(maxsize=2)
def shipped_agent(victim: str):
    """The agent ``rl`` attacks ``victim`` with (an agent that cannot load raises ``AgentError``)."""
    from rlab_core.agents.agent import load_agent

    return load_agent(victim)


def select_inputs(victim: str, n: int, model: Path | None = None) -> list[int]:
    """Indices of the first ``n`` test items the network (the victim's, or the ONNX ``model``)
    classifies correctly (unlabelled items count): attacking a misclassified input proves nothing."""
    data, chosen, attacked = _test_split(victim), [], attacked_victim(victim, model)
    for i in range(len(data)):
        sample = data[i]
        if sample.y is None or attacked.predict(sample.x) == sample.y:
            chosen.append(i)
            if len(chosen) == n:
                break
    return chosen


def _rounded(value):
    return round(float(value), FLOAT_DIGITS) if isinstance(value, float) else value


def record(index: int, seed: int, result: AttackResult, **extra) -> dict:
    """One sample's figures under one attack, as the JSON and the ``.jsonl`` hold them."""
    summary = result.summary()
    out = {"index": int(index), "attack": result.attack, "seed": int(seed)}
    out.update({key: _rounded(summary[key]) for key in RECORD_KEYS if key in summary})
    out.update({key: _rounded(value) for key, value in result.details.items()})
    out.update(extra)
    return out


def matched_l2(rl_record: dict | None, fallback: float | None) -> tuple[float | None, str | None]:
    """The L2 that ``square`` and ``simba`` are held to on one input, and where it comes from."""
    if rl_record is not None and rl_record["success"]:
        return float(rl_record["l2"]), "rl"
    if rl_record is not None and fallback is not None:
        return float(fallback), "rl_median"
    return None, None  # rl failed here: wait for the run's median


def median_rl_l2(records: Iterable[dict]) -> float | None:
    """``rl``'s median L2 over its successes (over all its attacks if none succeeded)."""
    rl = [r for r in records if r["attack"] == "rl"]
    wins = [r["l2"] for r in rl if r["success"]]
    values = wins or [r["l2"] for r in rl if r["l2"] > 0]
    return round(float(np.median(values)), FLOAT_DIGITS) if values else None


def run_one(config: BenchConfig, name: str, x: torch.Tensor, y: int | None, seed: int,
            l2_match: float | None = None) -> AttackResult:
    """One attack of the registry on one input; ``l2_match`` is the matched attacks' distortion
    (``square``'s eps, ``simba``'s limit). The patch attacks get the run's filter, ``rl`` the agent."""
    from rlab_core.attacks.art_bridge import seed_everything

    seed_everything(seed)
    declared = parameters(name)
    params: dict = {}
    if "filter" in declared:
        params["filter"] = config.filter
    if "agent" in declared:
        params["agent"] = shipped_agent(config.victim)
    matched = REGISTRY[name].matched_parameter
    if matched:
        params[matched] = l2_match
    victim = attacked_victim(config.victim, config.model)
    return make_attack(name, **params).run(victim, x, y, budget=config.budget, seed=seed)


def run_sample(config: BenchConfig, index: int, attacks: Sequence[str], rl_record: dict | None = None,
               fallback_l2: float | None = None) -> list[dict]:
    """Attack test item ``index`` with ``attacks`` (``rl`` first); the Ray task and the local step.

    ``rl_record`` is this input's ``rl`` record when ``rl`` ran before (a resumed run);
    ``fallback_l2`` the run's median ``rl`` L2, once known. A matched attack whose L2 is not known
    yet (``rl`` failed here, no median yet) is left out, to be run later.
    """
    torch.set_num_threads(1)
    if any(a in ART_ATTACKS for a in attacks):
        import art.attacks.evasion  # noqa: F401  (imported once here, not inside a sample's timing)
    sample = _test_split(config.victim)[index]
    seed = sample_seed(config.seed, index)
    records = []
    for name in sorted(attacks, key=lambda a: a != "rl"):
        extra = {}
        l2_match = None
        if name in MATCHED:
            l2_match, source = matched_l2(rl_record, fallback_l2)
            if l2_match is None:
                continue
            extra["matched_to"] = source
        result = run_one(config, name, sample.x, sample.y, seed, l2_match)
        records.append(record(index, seed, result, **extra))
        if name == "rl":
            rl_record = records[-1]
    return records
