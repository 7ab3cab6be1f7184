"""Digit-clip mosaics: the grid pointing game (GridPG, Böhle et al., CVPR 2022) on video.

Each item is ``(1, 16, 64, 64)``: four 32x32 cells, each holding one real MNIST digit (as in
:mod:`~rlab_core.datasets.moving_digits`, shrunk to 20x20) that moves with its own constant
velocity and bounces off its cell's borders, so it never leaves the cell. The four digits have
four distinct classes, so a map that explains class ``c`` must point at the one cell whose digit
is a ``c``; a map that ignores the model lights up all four digits alike. The labels are
multi-hot; each :class:`~rlab_core.sample.Part` carries its digit's pixels in every frame and its
cell (over all frames).

Digits come from the moving-digit set's own stratified splits, so no test digit is ever seen in
training. An item is a pure function of its split, index and ``epoch``: the test split is fixed,
and training draws fresh mosaics every epoch.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from rlab_core.datasets.base import SPLITS, check_split, mosaic_sample, multi_hot_arrays
from rlab_core.datasets.moving_digits import CLASS_NAMES, FRAMES, digits, render_clip, split_indices
from rlab_core.sample import Sample

SIZE, CELL, DIGIT = 64, 32, 20  # the frame, its four cells, a shrunk digit
CELLS = 4
SPEED = (0.7, 1.5)  # pixels per frame: a digit crosses its 12-pixel room once or twice in a clip
ITEMS = {"train": 6_000, "val": 1_000, "test": 1_000}
SPLIT_SEED = 2  # not the single-digit clips' motions


def cell_slices(k: int) -> tuple[slice, slice]:
    """Rows and columns of cell ``k`` (0 top left, 1 top right, 2 bottom left, 3 bottom right)."""
    row, col = divmod(k, 2)
    return slice(row * CELL, (row + 1) * CELL), slice(col * CELL, (col + 1) * CELL)


def cell_mask(k: int) -> torch.Tensor:
    """Cell ``k`` in every frame, ``(16, 64, 64)``."""
    mask = torch.zeros(FRAMES, SIZE, SIZE, dtype=torch.bool)
    mask[(slice(None), *cell_slices(k))] = True
    return mask


class DigitClipMosaic:
    """One split of the digit-clip mosaics; item ``i`` is ``(1, 16, 64, 64)`` with four parts."""

    modality = "video"
    class_names: tuple[str, ...] = CLASS_NAMES
    multi_label = True

    def __init__(self, split: str, epoch: int = 0) -> None:
        check_split(split)
        self.split, self.epoch = split, epoch
        rows = split_indices()[split]
        labels = digits()[1][rows]
        self.by_class = [rows[labels == c] for c in range(len(CLASS_NAMES))]

    def __len__(self) -> int:
        return ITEMS[self.split]

    def _item(self, i: int) -> tuple[np.ndarray, list[int], list[np.ndarray]]:
        """The clip ``(16, 64, 64)``, the class of each cell, and each cell's digit mask."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} is out of range: the {self.split} split has {len(self)}")
        rng = np.random.default_rng([SPLIT_SEED, SPLITS.index(self.split), self.epoch, i])
        classes = [int(c) for c in rng.choice(len(CLASS_NAMES), size=CELLS, replace=False)]
        clip = np.zeros((FRAMES, SIZE, SIZE), dtype=np.float32)
        masks = []
        for k, label in enumerate(classes):
            digit = cv2.resize(digits()[0][rng.choice(self.by_class[label])], (DIGIT, DIGIT), interpolation=cv2.INTER_AREA)
            cell_clip, cell_digit = render_clip(digit, rng, size=CELL, speed=SPEED)
            rows, cols = cell_slices(k)
            clip[:, rows, cols] = cell_clip
            mask = np.zeros((FRAMES, SIZE, SIZE), dtype=bool)
            mask[:, rows, cols] = cell_digit
            masks.append(mask)
        return clip, classes, masks

    def __getitem__(self, i: int) -> Sample:
        clip, classes, masks = self._item(i)
        return mosaic_sample(clip, classes, masks, [cell_mask(k) for k in range(CELLS)], f"digit mosaic {self.split} {i}")

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item and its multi-hot labels ``(N, 10)``."""
        return multi_hot_arrays([self._item(i) for i in range(len(self))], len(CLASS_NAMES))
