"""Fashion-MNIST: 70,000 real 28x28 grayscale photos of clothes in 10 classes (Zalando, MIT).

The official 10,000 test images are the test split; the official 60,000 training images are
split 90/10, stratified with a fixed seed, into train and val.

The test images ship in ``assets/data/fashion-mnist`` (all the app and the attacks need); the
26 MB of training images come from Debian's package ``dataset-fashion-mnist``
(``apt-get install dataset-fashion-mnist``), which the test command installs.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from rlab_core import ASSETS
from rlab_core.datasets.base import check_split, stratified_split
from rlab_core.sample import Sample

CLASS_NAMES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                "Ankle boot")
SPLIT_SEED = 0
FOLDERS = (ASSETS / "data" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist"))


def _read_idx(name: str, header_bytes: int) -> np.ndarray:
    path = next((folder / name for folder in FOLDERS if (folder / name).exists()), None)
    if path is None:
        raise FileNotFoundError(f"Fashion-MNIST file {name} not found; its training images come from Debian: "
                                f"apt-get install dataset-fashion-mnist")
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


@lru_cache(maxsize=2)
def _official(part: str) -> tuple[np.ndarray, np.ndarray]:
    """The official ``train`` or ``t10k`` images ``(N, 28, 28)`` and labels, as uint8."""
    images = _read_idx(f"{part}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = _read_idx(f"{part}-labels-idx1-ubyte.gz", 8)
    return images, labels


@lru_cache(maxsize=1)
def _train_val_indices() -> dict[str, np.ndarray]:
    return stratified_split(_official("train")[1], (0.9, 0.1, 0.0), SPLIT_SEED)


class FashionMNIST:
    """One split of Fashion-MNIST; item ``i`` is a ``(1, 28, 28)`` image in ``[0, 1]``."""

    modality = "image"
    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, split: str) -> None:
        check_split(split)
        self.split = split
        if split == "test":
            self.images, self.labels = _official("t10k")
        else:
            images, labels = _official("train")
            keep = _train_val_indices()[split]
            self.images, self.labels = images[keep], labels[keep]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> Sample:
        x = torch.from_numpy(self.images[i].astype(np.float32) / 255.0)[None]
        return Sample(x, int(self.labels[i]), f"Fashion-MNIST {self.split} {i}")

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.images.astype(np.float32) / 255.0)[:, None]
        return x, torch.from_numpy(self.labels.astype(np.int64))
