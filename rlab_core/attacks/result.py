"""What an attack returns: the step records of its trajectory, its distortion measures, the result."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from skimage.metrics import structural_similarity


@dataclass(frozen=True)
class StepRecord:
    """One step of a trajectory. ``action`` is ``"add"``, ``"remove"`` or ``"prune"``.

    ``queries`` is the victim wrapper's count after this step's query; ``top`` the victim's top
    classes as ``[name, probability]``; ``l0_patches`` and ``l2`` the distortion after the step.
    A ``prune`` step whose removal lost the misclassification is put back: ``kept`` is then False
    (its query counts, its removal does not).
    """

    step: int
    action: str
    filter: str | None
    patch: int
    queries: int
    true_prob: float
    top: list[list]
    l0_patches: int
    l2: float
    misclassified: bool
    kept: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def l2(x: torch.Tensor, x_adv: torch.Tensor) -> float:
    return float((x_adv - x).flatten().norm())


def linf(x: torch.Tensor, x_adv: torch.Tensor) -> float:
    return float((x_adv - x).abs().max())


def l0_elements(x: torch.Tensor, x_adv: torch.Tensor) -> int:
    """How many input elements (every channel counted) the attack changed."""
    return int((x_adv != x).sum())


def ssim(x: torch.Tensor, x_adv: torch.Tensor) -> float:
    """Structural similarity in ``[0, 1]`` input scale: of the image, or the mean over a clip's frames."""
    frames = [(x, x_adv)] if x.dim() == 3 else [(x[:, t], x_adv[:, t]) for t in range(x.shape[1])]
    scores = []
    for clean, adversarial in frames:
        a, b = clean.numpy().astype(np.float64), adversarial.numpy().astype(np.float64)
        side = min(a.shape[1:])
        win = min(7, side if side % 2 else side - 1)
        scores.append(structural_similarity(a, b, data_range=1.0, channel_axis=0, win_size=win))
    return float(np.mean(scores))


def snr_db(x: torch.Tensor, x_adv: torch.Tensor) -> float:
    """Signal-to-noise ratio of an ECG in dB: the clean signal's power about its mean over the
    distortion's power (so the ``[0, 1]`` scaling's offset does not count as signal)."""
    noise = float(((x_adv - x) ** 2).sum())
    signal = float(((x - x.mean(dim=-1, keepdim=True)) ** 2).sum())
    return float("inf") if noise == 0 else 10.0 * float(np.log10(signal / noise))


@dataclass
class AttackResult:
    """The outcome of one attack on one input.

    Made by :func:`measure`, the one place where an attack's outcome becomes figures.

    ``success``: the victim's top-1 differs from ``label`` with at most ``max_patches`` patches
    distorted. ``queries``: the wrapper's count at the first misclassification (the budget if
    the attack failed); ``queries_total`` adds pruning. Norms are in ``[0, 1]`` input scale and
    describe the final (pruned) adversarial input.
    """

    attack: str
    success: bool
    already_misclassified: bool
    queries: int
    queries_total: int
    label: int
    adversarial_label: int
    l0_patches: int
    l0_elements: int
    l2: float
    linf: float
    remove_rate: float
    seconds: float
    x_adv: torch.Tensor
    mask: torch.Tensor  # bool, (n_patches,)
    element_mask: torch.Tensor  # bool, the input's non-channel shape
    trajectory: list[StepRecord] = field(default_factory=list)
    ssim: float | None = None
    snr_db: float | None = None
    label_name: str = ""
    adversarial_label_name: str = ""
    # Attack-specific settings and counts (e.g. an ART baseline's eps and how many samples ART
    # asked for); plain JSON values.
    details: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The scalar fields, as the CLI's JSON gives them."""
        keys = ("attack", "success", "already_misclassified", "queries", "queries_total", "label", "label_name",
                "adversarial_label", "adversarial_label_name", "l0_patches", "l0_elements", "l2", "linf", "ssim",
                "snr_db", "remove_rate", "seconds")
        out = {k: getattr(self, k) for k in keys}
        return {k: v for k, v in out.items() if v is not None}


def measure(attack: str, x: torch.Tensor, x_adv: torch.Tensor, *, label: int, adversarial_label: int,
            class_names: Sequence[str], success: bool, already_misclassified: bool, queries: int, queries_total: int,
            mask: torch.Tensor, element_mask: torch.Tensor, started: float, remove_rate: float = 0.0,
            trajectory: Sequence[StepRecord] = (), details: dict | None = None) -> AttackResult:
    """The :class:`AttackResult` of an attack that turned ``x`` into ``x_adv``: its distortion measured
    here (L0, L2, Linf, and SSIM for images and video or SNR for ECG), ``seconds`` since ``started``
    (a ``time.perf_counter()``)."""
    x, x_adv = x.detach().float(), x_adv.detach().float()
    measures = {"ssim": ssim(x, x_adv)} if x.dim() >= 3 else {"snr_db": snr_db(x, x_adv)}
    return AttackResult(
        attack=attack, success=success, already_misclassified=already_misclassified, queries=queries,
        queries_total=queries_total, label=label, adversarial_label=adversarial_label,
        l0_patches=int(mask.sum()), l0_elements=l0_elements(x, x_adv), l2=l2(x, x_adv), linf=linf(x, x_adv),
        remove_rate=remove_rate, seconds=time.perf_counter() - started, x_adv=x_adv, mask=mask,
        element_mask=element_mask, trajectory=list(trajectory), label_name=class_names[label],
        adversarial_label_name=class_names[adversarial_label], details=dict(details or {}), **measures)
