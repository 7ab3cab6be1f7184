"""ECG strips: four real ECG5000 beats in a row, at most one of them abnormal, and where it is.

Each item is a single-lead strip ``(1, 560)``: four beats of 140 samples joined end to end. A
third of the strips hold only normal beats; in the others one beat at a random place is an
R-on-T PVC, or a PVC / supraventricular or ectopic beat (ECG5000's classes 2 and 3, too rare
apart). The label says which abnormality the strip holds, or none; the ground truth is the
abnormal beat's 140 samples. Strips without an abnormal beat have no mask and are not scored.

Beats come from ECG5000's own stratified split, so no test strip holds a beat that training saw.
An item is a pure function of its split and index.
"""
from __future__ import annotations

import numpy as np
import torch

from rlab_core.convert import scale_to_unit
from rlab_core.datasets.base import SPLITS, check_split
from rlab_core.datasets.ecg5000 import BEAT_LENGTH, _split_indices, _table
from rlab_core.sample import Sample

CLASS_NAMES: tuple[str, ...] = ("No abnormal beat", "R-on-T PVC", "PVC, SP or EB")
SOURCE_CLASSES = ((0,), (1,), (2, 3))  # the ECG5000 classes each strip class draws its odd beat from
BEATS = 4
LENGTH = BEATS * BEAT_LENGTH
ITEMS = {"train": 9_000, "val": 900, "test": 900}
SPLIT_SEED = 0


class EcgStrips:
    """One split of the ECG strips; item ``i`` is ``(1, 560)`` in ``[0, 1]``, with a mask when abnormal."""

    modality = "ecg"
    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, split: str) -> None:
        check_split(split)
        self.split = split
        rows = _split_indices()[split]
        beat_labels = _table()[1][rows]
        self.pools = [rows[np.isin(beat_labels, sources)] for sources in SOURCE_CLASSES]
        self.labels = np.arange(ITEMS[split], dtype=np.int64) % len(CLASS_NAMES)

    def __len__(self) -> int:
        return len(self.labels)

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float]]:
        rng = np.random.default_rng([SPLIT_SEED, SPLITS.index(self.split), i])
        rows = rng.choice(self.pools[0], size=BEATS)
        odd = int(rng.integers(BEATS))
        label = int(self.labels[i])
        if label:
            rows[odd] = rng.choice(self.pools[label])
        strip, scale = scale_to_unit(_table()[0][rows].reshape(1, LENGTH))
        mask = None
        if label:
            mask = np.zeros(LENGTH, dtype=bool)
            mask[odd * BEAT_LENGTH:(odd + 1) * BEAT_LENGTH] = True
        return strip, mask, scale

    def __getitem__(self, i: int) -> Sample:
        strip, mask, scale = self._item(i)
        return Sample(torch.from_numpy(strip), int(self.labels[i]), f"ECG strip {self.split} {i}",
                      mask=None if mask is None else torch.from_numpy(mask), scale=scale)

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        strips = np.stack([self._item(i)[0] for i in range(len(self))])
        return torch.from_numpy(strips), torch.from_numpy(self.labels)
