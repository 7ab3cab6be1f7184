"""The one way splits are made (and :class:`Sample`, what every dataset returns)."""
from __future__ import annotations

import numpy as np
import torch

from rlab_core.sample import Part, Sample

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


def mosaic_sample(x: np.ndarray, classes: list[int], masks: list[np.ndarray], cells: list[torch.Tensor],
                  name: str) -> Sample:
    """A mosaic as a :class:`Sample`: one part per cell (its class, object mask and cell); ``y`` and
    ``mask`` are the first part's. ``x`` lacks its channel axis."""
    parts = tuple(Part(label, torch.from_numpy(mask), cell) for label, mask, cell in zip(classes, masks, cells))
    return Sample(torch.from_numpy(x)[None], classes[0], name, mask=parts[0].mask, parts=parts)


def multi_hot_arrays(items: list[tuple[np.ndarray, list[int], list[np.ndarray]]],
                     n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mosaic items ``(x, classes, masks)`` as ``(N, 1, *x.shape)`` inputs and ``(N, n_classes)`` multi-hot labels."""
    targets = torch.zeros(len(items), n_classes)
    for row, (_, classes, _) in enumerate(items):
        targets[row, classes] = 1.0
    return torch.from_numpy(np.stack([x for x, _, _ in items]))[:, None], targets
