"""Adversarial fine-tuning of a victim against its own RL agent, and the before/after report.

Its parts, each a module: ``config`` (:class:`RobustnessConfig`, its presets), ``hardener``
(:class:`Hardener`, the fine-tuning component), ``evaluate`` (the test attacks and their figures),
``steps`` (what a run keeps to resume), ``run`` (:func:`run_robustness`, top to bottom), ``report``
(:class:`RobustnessReport`, its JSON) and ``markdown``.

The run, its settings in :class:`RobustnessConfig` (presets ``quick``, ``default``
and ``full`` per victim, :func:`config_for`):

1. **Attack.** The victim's shipped agent attacks correctly classified items of the *training*
   split, each input with one filter setting in turn (the mixture, then each filter), at the
   report's budget and the 20% patch cap. Every attack that fools the victim gives an
   adversarial sample, kept at its true label. Items of the *validation* split are attacked the
   same way, for early stopping only.
2. **Fine-tune.** From the shipped weights, every batch mixes clean training items (with the
   victim's own training augmentation) and adversarial samples: a share ``ratio`` of each batch is
   adversarial, as ``ratio`` in ART's ``AdversarialTrainer``, whose shape :class:`Hardener` has
   (here drawn from the fixed pool of step 1, since an RL attack per batch would cost far more). After each epoch the validation
   score is the mean of the clean and the adversarial validation accuracy; the best epoch is
   kept (epoch 0, the shipped weights, included) and training stops after ``patience`` epochs
   without gain. The hardened weights go *beside* the shipped ones (``<victim>-hardened.pt``),
   never over them (:func:`save_hardened` refuses any victim's shipped weights path).
3. **Report** on the *test* split, which neither step saw, before (shipped weights) and after
   (hardened): clean accuracy; the shipped agent's success rate and median queries (a failure
   counts the whole budget) with the mixture and with each filter; ART's Square Attack (Linf) at
   a fixed ``eps``; and the accuracy on the adversarial samples that fooled the shipped weights
   (held out: made from test inputs). Then an **adaptive** attacker: an agent trained again,
   against the hardened victim, with the shipped agent's own recipe and number of PPO steps
   (the quick preset shrinks it, and says so), attacking the same test inputs.

Every query count comes from the :class:`~rlab_core.victims.blackbox.BlackBox` of each attack
(:class:`~rlab_core.attacks.rl.RLAttack` and :class:`~rlab_core.attacks.square.SquareLinfAttack`,
run on the shipped and on the hardened :class:`~rlab_core.victims.Victim`). Test inputs are the first
``n_eval`` items of the seeded test split that both networks classify correctly, so that both
sides are attacked on the same inputs; ``clean_accuracy`` covers the whole test split.

Long runs report through ``callbacks`` (:mod:`rlab_core.callbacks`; phases :data:`PHASES`): the CLI
passes its stderr log and a :class:`~rlab_core.background.Progress` file that the app's Robustness
page polls; the page runs ``python -m rlab_core robustness`` in the background
(``rlab_app.jobs.start_robustness``), in ``runs/robustness/<victim>/``. A run given a ``phases``
folder (``<out stem>.phases/`` on the command line) keeps each finished step there (:data:`STEPS`:
the attacks on the training split, fine-tuning, the test attacks before, after, and the adaptive
attacker's), so that a killed run resumes from its last finished step (:class:`RunSteps`). Every
step is seeded, so a resumed run gives the numbers of one never stopped.
"""
from rlab_core.robustness.config import (
    PHASES,
    PRESETS,
    QUICK_ADAPTIVE,
    SETTINGS,
    SIZES,
    RobustnessConfig,
    RobustnessError,
    config_for,
)
from rlab_core.robustness.evaluate import (
    adaptive_config,
    by_setting,
    eval_inputs,
    records_of,
    rl_attacks,
    square_attacks,
    summary,
)
from rlab_core.robustness.hardener import (
    AdversarialSet,
    FineTuned,
    Hardener,
    network_copy,
    save_hardened,
    shipped_copy,
    shipped_weights,
)
from rlab_core.robustness.markdown import markdown
from rlab_core.robustness.report import (
    REPORTS,
    AdaptiveReport,
    ReplayedSample,
    RobustnessReport,
    SideReport,
    comparison_rows,
    replay_sample,
    run_folder,
    save_report,
    shipped_report_path,
)
from rlab_core.robustness.run import run_robustness
from rlab_core.robustness.steps import SETTINGS_FILE, STEPS, RunSteps, phases_folder, resumable, run_settings

__all__ = [
    "PHASES", "PRESETS", "QUICK_ADAPTIVE", "REPORTS", "SETTINGS", "SETTINGS_FILE", "SIZES", "STEPS",
    "AdaptiveReport", "AdversarialSet", "FineTuned", "Hardener", "ReplayedSample", "RobustnessConfig",
    "RobustnessError", "RobustnessReport", "RunSteps", "SideReport", "adaptive_config", "by_setting",
    "comparison_rows", "config_for", "eval_inputs", "markdown", "network_copy", "phases_folder",
    "records_of", "replay_sample", "resumable", "rl_attacks", "run_folder", "run_robustness", "run_settings",
    "save_hardened", "save_report", "shipped_copy", "shipped_report_path", "shipped_weights", "square_attacks",
    "summary",
]
