"""Garment mosaics: the grid pointing game (GridPG) of Böhle et al. (CVPR 2022) on real photos.

Each item is ``(1, 64, 64)``: a 64x64 crop of one of scikit-image's photographed textures (as in
:mod:`~rlab_core.datasets.fashion_on_texture`) cut into four 32x32 cells, each holding one 28x28
Fashion-MNIST garment at a random offset inside its cell. The four garments have four distinct
classes, so evidence is class-specific: a map that explains class ``c`` must point at the one
cell that holds a ``c`` and at that garment's pixels, not at every garment, and a map that ignores
the model cannot tell the cells apart. The labels are multi-hot (every class present); each
:class:`~rlab_core.sample.Part` carries its garment's pixels and its cell.

Garments come from Fashion-MNIST's own splits (test items only from the official test set), and
textures from disjoint regions (train and val crops from the left three quarters of each texture,
test crops from the right quarter). An item is a pure function of its split and index.
"""
from __future__ import annotations

import numpy as np
import torch

from rlab_core.datasets.base import SPLITS, check_split, mosaic_sample, multi_hot_arrays
from rlab_core.datasets.fashion_mnist import CLASS_NAMES, FashionMNIST
from rlab_core.datasets.fashion_on_texture import OBJECT_THRESHOLD, TEXTURES, textures
from rlab_core.sample import Sample

SIZE, CELL, ITEM = 64, 32, 28  # the mosaic, its four cells, a garment
CELLS = 4
ITEMS = {"train": 20_000, "val": 2_000, "test": 2_000}
SPLIT_SEED = 1  # not the single-garment set's: its items are other draws


def cell_slices(k: int) -> tuple[slice, slice]:
    """Rows and columns of cell ``k`` (0 top left, 1 top right, 2 bottom left, 3 bottom right)."""
    row, col = divmod(k, 2)
    return slice(row * CELL, (row + 1) * CELL), slice(col * CELL, (col + 1) * CELL)


def cell_mask(k: int) -> torch.Tensor:
    mask = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    mask[cell_slices(k)] = True
    return mask


class GarmentMosaic:
    """One split of the garment mosaics; item ``i`` is ``(1, 64, 64)`` with four parts."""

    modality = "image"
    class_names: tuple[str, ...] = CLASS_NAMES
    multi_label = True

    def __init__(self, split: str) -> None:
        check_split(split)
        self.split = split
        self.garments = FashionMNIST(split)
        labels = self.garments.labels
        self.by_class = [np.flatnonzero(labels == c) for c in range(len(CLASS_NAMES))]

    def __len__(self) -> int:
        return ITEMS[self.split]

    def _columns(self) -> tuple[int, int]:
        width = textures().shape[2]
        cut = 3 * width // 4
        return (0, cut - SIZE + 1) if self.split != "test" else (cut, width - SIZE + 1)

    def _item(self, i: int) -> tuple[np.ndarray, list[int], list[np.ndarray]]:
        """The image ``(64, 64)``, the class of each cell, and each cell's garment mask."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} is out of range: the {self.split} split has {len(self)}")
        rng = np.random.default_rng([SPLIT_SEED, SPLITS.index(self.split), i])
        texture = textures()[rng.integers(len(TEXTURES))]
        top, left = rng.integers(0, texture.shape[0] - SIZE + 1), rng.integers(*self._columns())
        image = texture[top:top + SIZE, left:left + SIZE].copy()
        classes = [int(c) for c in rng.choice(len(CLASS_NAMES), size=CELLS, replace=False)]
        masks = []
        for k, label in enumerate(classes):
            pixels = self.garments.images[rng.choice(self.by_class[label])].astype(np.float32) / 255.0
            rows, cols = cell_slices(k)
            dy, dx = rng.integers(0, CELL - ITEM + 1, size=2)
            mask = np.zeros((SIZE, SIZE), dtype=bool)
            mask[rows.start + dy:rows.start + dy + ITEM, cols.start + dx:cols.start + dx + ITEM] = pixels > OBJECT_THRESHOLD
            image[mask] = pixels[pixels > OBJECT_THRESHOLD]
            masks.append(mask)
        return image, classes, masks

    def __getitem__(self, i: int) -> Sample:
        image, classes, masks = self._item(i)
        return mosaic_sample(image, classes, masks, [cell_mask(k) for k in range(CELLS)], f"garment mosaic {self.split} {i}")

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item and its multi-hot labels ``(N, 10)``."""
        return multi_hot_arrays([self._item(i) for i in range(len(self))], len(CLASS_NAMES))
