"""Fashion-MNIST on texture: a real clothing photo pasted at a random place on a real texture.

Each item is ``(1, 64, 64)``: a 64x64 crop of one of scikit-image's photographed textures
(brick, grass, gravel; darkened to ``[0, 0.5]`` so the garment stays visible) with one 28x28
Fashion-MNIST item pasted at a uniformly random place. The label is the garment's class; the
ground truth is the garment's pixels (its non-zero pixels in the original photo), so a map that
points at the object is right and one that points at the texture is wrong.

Garments come from Fashion-MNIST's own splits (test items only from the official test set), and
textures are cut from disjoint regions: train and val crops from the left three quarters of each
texture, test crops from the right quarter. An item is a pure function of its split and index.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from rlab_core.datasets.base import SPLITS, check_split
from rlab_core.datasets.fashion_mnist import CLASS_NAMES, FashionMNIST
from rlab_core.sample import Sample

SIZE, ITEM = 64, 28
TEXTURES = ("brick", "grass", "gravel")
TEXTURE_RANGE = 0.5  # textures span [0, 0.5]; garments keep their own [0, 1] intensities
OBJECT_THRESHOLD = 0.05  # a garment pixel brighter than this belongs to the object
ITEMS = {"train": 20_000, "val": 2_000, "test": 2_000}
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def textures() -> np.ndarray:
    """The textures ``(3, 512, 512)`` as float32 in ``[0, TEXTURE_RANGE]`` (they ship with scikit-image)."""
    import skimage.data

    images = [getattr(skimage.data, name)().astype(np.float32) for name in TEXTURES]
    return np.stack([TEXTURE_RANGE * (t - t.min()) / (t.max() - t.min()) for t in images])


def compose(garment: np.ndarray, texture: np.ndarray, rng: np.random.Generator,
            columns: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Paste one ``(28, 28)`` uint8 garment on a crop of ``texture`` whose left edge lies in
    ``columns``: ``(image (64, 64) in [0, 1], bool object mask)``."""
    top = rng.integers(0, texture.shape[0] - SIZE + 1)
    left = rng.integers(*columns)
    image = texture[top:top + SIZE, left:left + SIZE].copy()
    row, col = rng.integers(0, SIZE - ITEM + 1, size=2)
    pixels = garment.astype(np.float32) / 255.0
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[row:row + ITEM, col:col + ITEM] = pixels > OBJECT_THRESHOLD
    image[mask] = pixels[pixels > OBJECT_THRESHOLD]
    return image, mask


class FashionOnTexture:
    """One split of the garments-on-texture localisation set; item ``i`` is ``(1, 64, 64)`` with its mask."""

    modality = "image"
    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, split: str) -> None:
        check_split(split)
        self.split = split
        self.garments = FashionMNIST(split)
        self.labels = self.garments.labels[:ITEMS[split]].astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def _columns(self) -> tuple[int, int]:
        width = textures().shape[2]
        cut = 3 * width // 4
        return (0, cut - SIZE + 1) if self.split != "test" else (cut, width - SIZE + 1)

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([SPLIT_SEED, SPLITS.index(self.split), i])
        texture = textures()[rng.integers(len(TEXTURES))]
        return compose(self.garments.images[i], texture, rng, self._columns())

    def __getitem__(self, i: int) -> Sample:
        image, mask = self._item(i)
        return Sample(torch.from_numpy(image)[None], int(self.labels[i]), f"garment on texture {self.split} {i}",
                      mask=torch.from_numpy(mask))

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        images = np.stack([self._item(i)[0] for i in range(len(self))])
        return torch.from_numpy(images)[:, None], torch.from_numpy(self.labels)
