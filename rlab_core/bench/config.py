"""What a benchmark run measures (:class:`BenchConfig`), declared once as its command line's options."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from rlab_core import options
from rlab_core.attacks.base import DEFAULT_BUDGET
from rlab_core.attacks.registry import ATTACKS as REGISTRY
from rlab_core.victims import file_sha256, get_profile

# Every attack of the registry but ``adaptive``, which attacks hardened weights (see robustness).
ATTACKS = ("rl", "greedy", "random", "square", "square_linf", "simba")
ART_ATTACKS = tuple(name for name in ATTACKS if not REGISTRY[name].uses_patches)
MATCHED = tuple(name for name in ATTACKS if REGISTRY[name].matched_parameter)  # their distortion is matched to rl's L2


class BenchError(ValueError):
    """Settings a benchmark cannot run with (reported by the CLI as a usage error)."""


@dataclass(frozen=True)
class BenchConfig:
    """What a benchmark run measures; every field but ``victim`` (``--modality`` / ``--victim``) is
    an option of ``python -m rlab_core bench``, so :meth:`argv` reruns it."""

    victim: str
    attacks: tuple[str, ...] = options.option(ATTACKS, required=True, help=f"comma list of {', '.join(ATTACKS)}")
    n: int = options.option(100, help="the first N correctly classified test inputs")
    budget: int = options.option(DEFAULT_BUDGET, help="queries per attack, the clean prediction included")
    seed: int = options.option(0, help="each input's seed is derived from it and the input's index")
    filter: str = options.option("mix", help="the patch attacks' filter: a name, 'mix' or a comma list")
    model: Path | None = options.option(
        None, help="your own classifier as ONNX, in place of the victim's network: it takes the victim's input "
                   "(batch, *shape) in [0, 1] and gives one score per victim class")

    def check(self) -> None:
        """Raise :class:`BenchError` on settings that cannot run, before any work starts."""
        from rlab_core.bench.samples import attacked_victim  # samples imports this module
        from rlab_core.filters import FilterError, resolve_filters

        get_profile(self.victim)
        if self.model is not None:
            attacked_victim(self.victim, self.model)  # loaded (and kept) now: a bad model fails here
        unknown = [a for a in self.attacks if a not in ATTACKS]
        if unknown or not self.attacks:
            raise BenchError(f"unknown attack(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(ATTACKS)}")
        if len(set(self.attacks)) != len(self.attacks):
            raise BenchError(f"an attack is named twice in {','.join(self.attacks)}")
        needs_rl = [a for a in self.attacks if a in MATCHED]
        if needs_rl and "rl" not in self.attacks:
            raise BenchError(f"{' and '.join(needs_rl)} need rl among the attacks: their distortion is matched to rl's L2")
        if self.n < 1:
            raise BenchError(f"--n must be at least 1, got {self.n}")
        if self.budget < 2:
            raise BenchError(f"--budget must be at least 2 (the clean prediction and one step), got {self.budget}")
        try:
            resolve_filters(self.filter)
        except FilterError as err:
            raise BenchError(str(err)) from None

    def settings(self) -> dict:
        """What a resumed run must share with the run it continues (``n`` and ``attacks`` may grow)."""
        model = {} if self.model is None else {"model_sha256": file_sha256(self.model)}
        return {"victim": self.victim, "budget": self.budget, "seed": self.seed, "filter": self.filter, **model}

    def argv(self) -> list[str]:
        """The arguments of ``python -m rlab_core bench`` that run this config (no ``--out``)."""
        return ["--modality", get_profile(self.victim).modality, "--victim", self.victim, *options.argv(self)]

    def command(self, out: Path | str) -> str:
        """The command line a report records: what reruns it into ``out``."""
        return shlex.join(["python", "-m", "rlab_core", "bench", *self.argv(), "--out", str(out)])
