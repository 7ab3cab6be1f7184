"""ECG5000: 5,000 real heartbeats of 140 samples in 5 classes (UCR archive, from BIDMC CHF).

The archive's own 500/4,500 split is replaced by a stratified 70/15/15 split with a fixed seed,
since the rare classes (PVC, SP/EB, Unclassified) barely appear in 500 beats.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from rlab_core import ASSETS
from rlab_core.convert import scale_to_unit
from rlab_core.datasets.base import check_split, stratified_split
from rlab_core.sample import Sample

CLASS_NAMES: tuple[str, ...] = ("Normal", "R-on-T PVC", "PVC", "SP or EB", "Unclassified")
BEAT_LENGTH = 140
SPLIT_SEED = 0
FRACTIONS = (0.70, 0.15, 0.15)


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ASSETS / "data" / "ecg5000.npz", allow_pickle=False) as data:
        return data["beats"], data["labels"]


@lru_cache(maxsize=1)
def _split_indices() -> dict[str, np.ndarray]:
    return stratified_split(_table()[1], FRACTIONS, SPLIT_SEED)


class ECG5000:
    """One split of ECG5000; item ``i`` is a single-lead beat ``(1, 140)`` scaled to ``[0, 1]``."""

    modality = "ecg"
    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, split: str) -> None:
        check_split(split)
        self.split = split
        self.indices = _split_indices()[split]
        self.labels = _table()[1][self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Sample:
        beats, labels = _table()
        row = int(self.indices[i])
        x, scale = scale_to_unit(beats[row][None, :])
        return Sample(torch.from_numpy(x), int(labels[row]), f"ECG5000 beat {row}", scale=scale)

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split as ``(N, 1, 140)`` inputs and ``(N,)`` labels, for training and scoring."""
        xs = [scale_to_unit(row[None, :])[0] for row in _table()[0][self.indices]]
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(self.labels.astype(np.int64))
