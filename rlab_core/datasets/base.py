"""The one way splits are made (and :class:`Sample`, what every dataset returns)."""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def stratified_split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """Split indices into train/val/test so that every class keeps its share in each part.

    Each class is shuffled with ``seed`` and cut by ``fractions``; a part with a non-zero fraction
    gets at least one item of every class that has enough (test first, then val, then train).
    Each part comes back in a seeded random order, so its first items mix the classes.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must add up to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(fractions[2] * len(members))) if fractions[2] > 0 else 0
        n_val = max(1, round(fractions[1] * len(members))) if fractions[1] > 0 and len(members) - n_test > 1 else 0
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
