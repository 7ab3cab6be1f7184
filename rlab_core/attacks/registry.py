"""The one table of attacks: what the CLI, ``bench`` and the app look up by name."""
from __future__ import annotations

import inspect
from typing import Any

from rlab_core.attacks.base import Attack
from rlab_core.attacks.greedy import GreedyAttack
from rlab_core.attacks.random_order import RandomOrderAttack
from rlab_core.attacks.rl import AdaptiveRLAttack, RLAttack
from rlab_core.attacks.simba import SimBAAttack
from rlab_core.attacks.square import SquareAttack, SquareLinfAttack

ATTACKS: dict[str, type[Attack]] = {cls.name: cls for cls in (
    RLAttack, AdaptiveRLAttack, RandomOrderAttack, GreedyAttack, SquareAttack, SquareLinfAttack, SimBAAttack)}


def parameters(name: str) -> list[str]:
    """The parameters attack ``name`` declares (its constructor's keyword arguments)."""
    return [p for p in inspect.signature(attack_class(name).__init__).parameters if p != "self"]


def required_parameters(name: str) -> list[str]:
    """The parameters attack ``name`` cannot do without (no default)."""
    signature = inspect.signature(attack_class(name).__init__)
    return [p.name for p in signature.parameters.values() if p.name != "self" and p.default is inspect.Parameter.empty]


def attack_class(name: str) -> type[Attack]:
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose from: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def make_attack(name: str, **params: Any) -> Attack:
    """Attack ``name`` built with ``params``, which it checks; unknown parameters are one clear error."""
    cls = attack_class(name)
    unknown = sorted(set(params) - set(parameters(name)))
    if unknown:
        raise ValueError(f"{name} takes no parameter {', '.join(unknown)}; its parameters: "
                         f"{', '.join(parameters(name)) or '(none)'}")
    missing = [p for p in required_parameters(name) if p not in params]
    if missing:
        raise ValueError(f"{name} needs {', '.join(missing)}")
    return cls(**params)
