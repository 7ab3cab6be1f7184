"""A robustness report as a Markdown before/after table (the ``.md`` beside its ``.json``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rlab_core.filters import MIX

if TYPE_CHECKING:
    from rlab_core.robustness.report import RobustnessReport, SideReport


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _side_row(name: str, side: SideReport) -> list[str]:
    return [name, _pct(side.clean_accuracy), _pct(side.rl_success_rate), _num(side.rl_median_queries),
            _pct(side.square_success_rate), *(_pct(side.per_filter[f]["success_rate"]) for f in MIX),
            _pct(side.adversarial_accuracy)]


def markdown(report: RobustnessReport) -> str:
    """A before/after table of ``report``, under a paragraph that says how it was made."""
    ev, adaptive = report.evaluation, report.adaptive
    head = ["", "clean accuracy", "RL success (mix)", "RL median queries", f"Square Linf {ev['square']['eps']:g} success",
            *(f"RL {f}" for f in MIX), "accuracy on held-out adversarial samples"]
    rows = [_side_row("before (shipped weights)", report.before), _side_row("after (hardened)", report.after),
            ["adaptive agent vs hardened", "", _pct(adaptive.success_rate), _num(adaptive.median_queries),
             "", *([""] * len(MIX)), ""]]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    gen, tuning = report.generation, report.fine_tuning
    return "\n".join([
        f"# `{report.victim}`: adversarial fine-tuning, before and after", "",
        (f"{ev['inputs']} test inputs that both networks classify correctly, budget {ev['budget']} queries, patch cap "
         f"{ev['max_patches']} of {ev['n_patches']} patches; Square Attack on the first {ev['square']['inputs']}. "
         f"Fine-tuned on {gen['train_samples']} adversarial samples from the training split (ratio {tuning['ratio']}), "
         f"best validation epoch {tuning['best_epoch']} of {tuning['epochs_run']}. The adaptive agent: "
         f"{adaptive.recipe['ppo_steps']} PPO steps on {adaptive.recipe['n_inputs']} inputs "
         f"({adaptive.chosen} policy chosen). Made by `{report.command}` in {report.seconds['total']:.0f} s "
         f"(preset {report.preset})."), "",
        *table, "",
        ("Accuracy on held-out adversarial samples: the share of the adversarial test inputs that fooled the shipped "
         "weights (every filter setting) that the network classifies correctly (0 before, by construction)."), ""])
