"""The verbs of the public API: attack, explain, benchmark, harden.

Each is a thin door onto the part of RLAB that does the work (:mod:`rlab_core.attacks`,
:mod:`rlab_core.explanations`, :mod:`rlab_core.bench`, :mod:`rlab_core.robustness`), importing it
only when called, so that ``import rlab_core`` stays light.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rlab_core.victims.blackbox import DEFAULT_BUDGET

if TYPE_CHECKING:
    from rlab_core.attacks import AttackResult
    from rlab_core.bench import BenchReport
    from rlab_core.callbacks import Callback
    from rlab_core.explanations import Explanation
    from rlab_core.robustness import RobustnessReport
    from rlab_core.victims import Victim


def attack(victim: Victim, x: torch.Tensor, y: int | None = None, *, method: str = "rl", budget: int = DEFAULT_BUDGET,
           max_patches: int | None = None, seed: int = 0, callbacks: Sequence[Callback] = (),
           **params: Any) -> AttackResult:
    """Attack one input ``x`` of ``victim`` (true class ``y``; ``None``: the clean top-1) with the
    attack ``method`` of the registry (``rl``, ``adaptive``, ``random``, ``greedy``, ``square``,
    ``square_linf``, ``simba``), built with ``params`` (e.g. ``filter="gaussian_noise"``,
    ``eps=0.5``). Queries are counted by a fresh black box; see :class:`~rlab_core.attacks.base.Attack`."""
    from rlab_core.attacks import make_attack

    return make_attack(method, **params).run(victim, x, y, budget=budget, max_patches=max_patches, seed=seed,
                                             callbacks=callbacks)


def explain(victim: Victim, x: torch.Tensor, label: int | None = None, *, methods: Sequence[str] | None = None,
            budget: int = DEFAULT_BUDGET, seed: int = 0, truth: torch.Tensor | None = None,
            callbacks: Sequence[Callback] = ()) -> Explanation:
    """Maps of ``x`` explaining ``victim``'s class ``label`` (``None``: its top-1), by ``methods``
    (default: every method the victim allows, a black box getting ``rl``, ``rl_hard`` and
    ``occlusion``, and the controls), scored against the ground-truth mask ``truth`` when given;
    ``callbacks`` follow the methods."""
    from rlab_core.explanations import default_methods
    from rlab_core.explanations import explain as explain_input

    chosen = tuple(methods) if methods is not None else default_methods(victim.white_box, truth is not None)
    return explain_input(victim, x, label, chosen, budget, seed, truth=truth, callbacks=callbacks)


def benchmark(victim: str, attacks: Sequence[str] = ("rl", "random"), *, n: int = 20, budget: int = DEFAULT_BUDGET,
              seed: int = 0, filter: str = "mix", model: Path | str | None = None, out: Path | str = "bench.json",
              callbacks: Sequence[Callback] = ()) -> BenchReport:
    """The benchmark of built-in ``victim`` (or the ONNX ``model`` shaped like it): its first ``n``
    correctly classified test inputs, each attacked by every one of ``attacks``; writes ``out``
    (.json, with .jsonl, .md and .png beside it) and returns the :class:`~rlab_core.bench.BenchReport`
    (its ``rows``, ``samples`` and ``curves``; ``to_json()`` is the file); ``callbacks`` follow the
    attacks (see :mod:`rlab_core.bench`)."""
    from rlab_core.bench import BenchConfig, run_bench

    config = BenchConfig(victim, tuple(attacks), n, budget, seed, filter, None if model is None else Path(model))
    return run_bench(config, Path(out), callbacks=callbacks)


def harden(victim: str, *, preset: str = "quick", seed: int = 0, weights: Path | str | None = None,
           callbacks: Sequence[Callback] = ()) -> RobustnessReport:
    """Adversarial fine-tuning of built-in ``victim`` against its RL agent, with the settings of
    ``preset`` (``quick``, ``default``, ``full``); the hardened weights go to ``weights`` (default:
    beside the shipped ones, ``runs/`` for a quick run), never over the shipped ones. Returns the
    before/after report (see :mod:`rlab_core.robustness`); ``callbacks`` follow the run."""
    from rlab_core.robustness import config_for, run_folder, run_robustness
    from rlab_core.victims import hardened_path

    if weights is None:
        weights = hardened_path(victim, run_folder(victim) / "quick" if preset == "quick" else None)
    return run_robustness(config_for(victim, preset, seed), Path(weights), callbacks)
