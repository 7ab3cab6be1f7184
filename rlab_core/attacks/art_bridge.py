"""How ART's attacks (Square, SimBA) run against a victim in this harness.

ART (the Adversarial Robustness Toolbox) needs an estimator with ``NeuralNetworkMixin``. Here it
gets a :class:`~art.estimators.classification.PyTorchClassifier` around :class:`VictimModule`, a
module without weights whose ``forward`` sends every sample, one at a time, through the attack's
own :class:`~rlab_core.victims.blackbox.BlackBox`: the wrapper counts every query and enforces the
budget, exactly as for the patch attacks, and ART never sees more than probabilities.

**Shapes.** ART's Square Attack takes images ``(N, C, H, W)`` only, so every modality is seen by
ART as an image and reshaped back around the victim (the attacks are ART's, not copies):

- image ``(C, H, W)``: as it is;
- video ``(C, T, H, W)``: an image with ``C * T`` channels ``(C * T, H, W)`` (each frame of each
  colour channel is a channel: a square is the same place in every frame, its sign per frame);
- ECG ``(L, T)``: folded row by row into ``(L, h, w)`` with ``h * w = T`` and ``h`` the largest
  divisor of ``T`` not above ``sqrt(T)`` (ECG5000's 140 samples: 10 rows of 14). A square on the
  fold is a few short stretches of the beat, ``w`` samples apart. A 1 x T image is not possible:
  ART's squares are as tall as they are wide.

**Stopping and counting.** :class:`VictimModule` answers every query and raises :class:`Fooled`
at the first sample whose top-1 leaves the true class: ART stops there, and the attack's
``queries`` is the wrapper's count at that sample (ART never gets to spend more). It raises
:class:`OverLimit`, before the sample is sent and counted, when a sample's L2 distance to the clean
input exceeds ``l2_limit`` (how SimBA is held to a distortion budget). A :class:`BudgetExhausted`
from the black box ends the attack as a failure at the budget.

**Repeated samples.** ART's Square Attack asks again for inputs whose answer it already had (each
iteration it predicts its current input twice before trying one new candidate). With
``reuse_answers`` (the default) a sample identical, bit for bit, to one of the last few already
sent is answered from memory and does not reach the victim or the count: one new query per
iteration, as in the paper's own implementation. Every sample that reaches the victim is counted;
``details["estimator_calls"]`` gives how many samples ART was answered, repeats included.

**Invalid samples.** ART 1.20's L2 Square Attack divides a new square by the product of two
factors where the authors' code divides by the first and multiplies by the second (the room left
in the ball plus the perturbation already under the two squares); when the perturbation already
fills the ball and the squares land where there is none, that factor is 0 and the candidate is
NaN. Such a sample is never sent (no query); the module answers NaN, as a network would, and
ART's own rule rejects the candidate (its loss does not improve). ``details["invalid_samples"]``
counts them.
"""
from __future__ import annotations

import hashlib
import math
import random
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from rlab_core.attacks.base import Attack
from rlab_core.attacks.result import AttackResult, l2, measure
from rlab_core.callbacks import CallbackList
from rlab_core.victims import BlackBox, BudgetExhausted, Victim

_REMEMBERED = 8  # the last samples whose answers are reused (ART repeats only its latest inputs)


class Fooled(Exception):
    """A sample was misclassified: the attack has succeeded and stops here."""

    def __init__(self, x_adv: torch.Tensor, queries: int) -> None:
        super().__init__(f"misclassified after {queries} queries")
        self.x_adv, self.queries = x_adv, queries


class OverLimit(Exception):
    """A sample's L2 distance to the clean input exceeds the attack's limit; it was not sent."""


def fold_length(length: int) -> tuple[int, int]:
    """``(h, w)`` with ``h * w == length`` and ``h`` the largest divisor not above ``sqrt(length)``."""
    h = max(d for d in range(1, math.isqrt(length) + 1) if length % d == 0)
    if h < 5:
        raise ValueError(f"an ECG of {length} samples cannot be folded into an image at least 5 rows high "
                         f"(ART's square attack needs one); its length has no divisor between 5 and its square root")
    return h, length // h


def image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """The ``(C, H, W)`` shape under which ART sees inputs of the victim's ``input_shape``."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:  # ECG (L, T)
        return (shape[0], *fold_length(shape[1]))
    if len(shape) == 3:  # image
        return shape
    if len(shape) == 4:  # video (C, T, H, W)
        return (shape[0] * shape[1], shape[2], shape[3])
    raise ValueError(f"no image view of inputs of shape {shape}")


class VictimModule(nn.Module):
    """A victim seen through a :class:`BlackBox`, as a torch module ART can wrap.

    Args:
        black_box: the attack's query-counting victim, ``input_shape`` = the victim's.
        x: the clean input (victim shape), for the L2 limit.
        output: ``"log_probs"`` (for Square: their differences are the logits' margin) or
            ``"probs"`` (SimBA requires probabilities).
        l2_limit: raise :class:`OverLimit` before sending a sample farther than this from ``x``.
        reuse_answers: answer a repeat of one of the last samples from memory (see the module).

    ``forward`` takes ``(B, *image_shape)`` and returns ``(B, K)``. Set :attr:`label` before an
    attack: from then on the first misclassified sample raises :class:`Fooled`.
    """

    def __init__(self, black_box: BlackBox, x: torch.Tensor, output: str = "log_probs",
                 l2_limit: float | None = None, reuse_answers: bool = True) -> None:
        super().__init__()
        if output not in ("log_probs", "probs"):
            raise ValueError(f"output must be 'log_probs' or 'probs', got {output!r}")
        self.black_box, self.output, self.l2_limit, self.reuse_answers = black_box, output, l2_limit, reuse_answers
        self.x = x.detach().float()
        self.label: int | None = None
        self.calls = 0  # samples answered, repeats included
        self.invalid = 0  # samples with NaN / infinite values, refused without a query
        self.n_classes = 0
        self.last: torch.Tensor = self.x  # the last sample sent, and the victim's answer to it
        self.last_probs: np.ndarray | None = None
        self.flip_queries: int | None = None  # the count at the first misclassified sample
        self._memory: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def ask(self, x: torch.Tensor) -> np.ndarray:
        """The victim's probabilities for one input of the victim's shape (counted unless remembered)."""
        x = x.detach().to(torch.float32).reshape(self.black_box.input_shape)
        if not torch.isfinite(x).all():  # never sent: NaN out, as a network would give, so ART rejects it
            self.invalid += 1
            return np.full(self.n_classes, np.nan)
        key = hashlib.blake2b(x.contiguous().numpy().tobytes(), digest_size=16).digest()
        if self.reuse_answers and key in self._memory:
            self._memory.move_to_end(key)
            self.calls += 1
            return self._memory[key]
        if self.l2_limit is not None and l2(self.x, x) > self.l2_limit * (1 + 1e-6):
            raise OverLimit(f"L2 {l2(self.x, x):.4f} exceeds the limit {self.l2_limit:.4f}")
        probs = self.black_box.probs(x)
        self.calls += 1
        self.n_classes = len(probs)
        self.last, self.last_probs = x, probs
        self._memory[key] = probs
        if len(self._memory) > _REMEMBERED:
            self._memory.popitem(last=False)
        if self.label is not None and int(np.argmax(probs)) != self.label:
            self.flip_queries = self.black_box.queries
            raise Fooled(x, self.flip_queries)
        return probs

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        probs = torch.as_tensor(np.stack([self.ask(x) for x in batch]))
        return probs.log().clamp(min=-1e4).float() if self.output == "log_probs" else probs.float()


def seed_everything(seed: int) -> None:
    """ART draws from NumPy's and Python's global generators: fix both (and torch's)."""
    np.random.seed(seed % 2**32)
    random.seed(seed)
    torch.manual_seed(seed)


class ArtAttack(Attack):
    """An ART evasion attack run through this harness (see the module's docstring).

    Subclasses build the ART attack in :meth:`make` and say what :class:`VictimModule` answers
    (``output``), how far a sample may go (:meth:`l2_limit`) and what the result records (:meth:`details`).
    """

    uses_patches = False
    output: ClassVar[str] = "log_probs"
    reuse_answers: bool = True

    @abstractmethod
    def make(self, classifier, victim: Victim, budget: int):
        """The ART attack on ``classifier`` (a ``PyTorchClassifier``, ``verbose=False``)."""

    def l2_limit(self) -> float | None:
        return None

    def details(self, victim: Victim) -> dict:
        return {}

    def _run(self, victim: Victim, x: torch.Tensor, y: int | None, *, budget: int, max_patches: int | None,
             seed: int, callbacks: CallbackList) -> AttackResult:
        from art.estimators.classification import PyTorchClassifier

        black_box = BlackBox(victim, budget=budget)
        started = time.perf_counter()  # as the patch attacks: from the first query, the model loaded
        module = VictimModule(black_box, x, self.output, self.l2_limit(), self.reuse_answers)
        shape = image_shape(victim.input_shape)
        clean = module.ask(x)
        label = int(np.argmax(clean)) if y is None else int(y)
        already = int(np.argmax(clean)) != label
        fooled = False
        if not already:
            module.label = label
            classifier = PyTorchClassifier(module, loss=nn.NLLLoss(), input_shape=shape, nb_classes=len(clean),
                                           clip_values=(0.0, 1.0), channels_first=True, device_type="cpu")
            seed_everything(seed)
            one_hot = np.eye(len(clean), dtype=np.float32)[[label]]
            try:
                with np.errstate(divide="ignore", invalid="ignore"):  # ART's NaN candidates: see "Invalid samples"
                    self.make(classifier, victim, budget).generate(
                        x.detach().numpy().astype(np.float32).reshape(1, *shape), y=one_hot)
            except Fooled:
                fooled = True
            except (BudgetExhausted, OverLimit):
                pass
        # The fooling sample on a success; on a failure, the last sample sent.
        x, x_adv = x.detach().float(), module.last
        assert module.last_probs is not None  # set by the clean input's query above
        changed = (x_adv != x).any(dim=0)
        return measure(self.name, x, x_adv, label=label, adversarial_label=int(np.argmax(module.last_probs)),
                       class_names=victim.class_names, success=fooled, already_misclassified=already,
                       queries=(module.flip_queries or 0) if fooled else black_box.queries if already else budget,
                       queries_total=black_box.queries, mask=victim.grid.patch_fraction(changed) > 0,
                       element_mask=changed, started=started,
                       details={**self.details(victim), "estimator_calls": module.calls,
                                "invalid_samples": module.invalid})
