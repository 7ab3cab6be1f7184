"""The built-in victims: one profile each, holding everything RLAB knows of it.

A profile says what the victim is and eats (modality, input shape, classes, network, data), how
it is cut into patches and how strong the filters are on it, which RL agent attacks it and how
that agent is trained, how the victim itself is trained, and how adversarial fine-tuning sizes a
run on it. Adding a victim is adding one profile here (see ``docs/ARCHITECTURE.md``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from rlab_core import ASSETS
from rlab_core.datasets import (
    ECG5000,
    DigitClipMosaic,
    EcgStrips,
    FashionMNIST,
    FashionOnTexture,
    GarmentMosaic,
    MovingDigits,
    NaturalClips,
    NaturalImages,
)
from rlab_core.patches import PatchGrid
from rlab_core.victims.imagenet import (
    IMAGENET_CLASSES,
    EfficientNetLite0,
    FramesClassifier,
    imagenet_weights_path,
)
from rlab_core.victims.models import (
    EcgCNN,
    EcgStripCNN,
    ImageCNN,
    TextureImageCNN,
    VideoCNN,
    VideoMosaicCNN,
)

MODALITIES = ("ecg", "image", "video")
WEIGHTS = ASSETS / "victims"


class VictimError(ValueError):
    """A victim that does not exist, or whose network cannot be loaded or does not fit."""


@dataclass(frozen=True)
class VictimProfile:
    """A built-in victim. ``input_shape`` excludes the batch; inputs are in ``[0, 1]``.

    Args:
        patch_size: the patch grid over the non-channel axes; every attack on the victim uses it,
            so that their query counts compare.
        strengths: filter strengths that differ from the filters' defaults on these inputs.
        agent: the name of the agent file in ``assets/agents/`` (one agent may serve several
            victims whose grids look alike to it).
        agent_recipe: how its agent is trained (``AgentTrainConfig`` fields); ``None``: it has none
            of its own.
        training: how the victim is trained here (``TrainConfig`` fields); ``None`` for pretrained
            weights that come with a pip package.
        robustness: ``RobustnessConfig`` fields for adversarial fine-tuning, and ``sizes``: per preset,
            the run sizes that differ from the preset's; ``None``: not fine-tunable here.
        multi_label, top_k: see :class:`~rlab_core.victims.Victim` (a mosaic's victim scores every
            class present; an attack on one of them succeeds once it leaves the top ``top_k``).
    """

    name: str
    modality: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    build: Callable[[], nn.Module]
    dataset: Callable[[str], Any]  # a split name -> the split: len() and Sample items
    description: str
    patch_size: tuple[int, ...]
    strengths: dict[str, float] = field(default_factory=dict)
    agent: str = ""
    agent_recipe: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None
    multi_label: bool = False
    top_k: int = 1

    @property
    def trained_here(self) -> bool:
        return self.training is not None

    @property
    def grid(self) -> PatchGrid:
        return PatchGrid(self.input_shape, self.patch_size)

    @property
    def agent_name(self) -> str:
        return self.agent or self.name

    @property
    def weights_path(self) -> Path:
        return WEIGHTS / f"{self.name}.pt" if self.trained_here else Path(imagenet_weights_path())


# On an ECG a dead segment is flat at the baseline: the whole window dies, not every other sample.
ECG_STRENGTHS = {"dead_pixel": 1.0}

PROFILES: dict[str, VictimProfile] = {profile.name: profile for profile in (
    VictimProfile(
        "ecg-cnn", "ecg", (1, 140), ECG5000.class_names, EcgCNN, ECG5000, "1D CNN trained on ECG5000 heartbeats",
        patch_size=(5,),  # 28 windows of 5 samples
        strengths=ECG_STRENGTHS,
        agent_recipe={"cells_per_patch": (5,), "n_inputs": 1500},
        training={"epochs": 80, "batch_size": 64, "lr": 3e-3, "stretch_and_noise": True},
        # Square's eps: ECG5000 beats are fooled by 97% at the published 0.05, 43% at 0.03.
        robustness={"square_eps": 0.03, "batch_size": 64}),
    VictimProfile(
        "image-cnn", "image", (1, 28, 28), FashionMNIST.class_names, ImageCNN, FashionMNIST,
        "small CNN trained on Fashion-MNIST",
        patch_size=(4, 4),  # 7 x 7 = 49 tiles
        agent_recipe={"cells_per_patch": (4, 4), "n_inputs": 1500},
        training={"epochs": 15, "batch_size": 128, "lr": 2e-3, "flip_and_shift": True},
        # A Fashion-MNIST epoch over all 50,000 items takes over a minute here.
        robustness={"square_eps": 0.05, "batch_size": 128, "sizes": {"default": {"clean_per_epoch": 15000}}}),
    VictimProfile(
        "imagenet-efficientnet-lite0", "image", (3, 224, 224), IMAGENET_CLASSES, EfficientNetLite0, NaturalImages,
        "EfficientNet-Lite0 pretrained on ImageNet",
        patch_size=(32, 32),  # 7 x 7 = 49, the published default
        agent_recipe={"cells_per_patch": (4, 4), "n_inputs": 68, "teacher_steps": 2, "imitation_epochs": 60,
                      "ppo_steps": 2_000, "n_envs": 2, "n_val": 2, "val_budget": 100, "augment_flips": True,
                      "dagger_rounds": 0}),
    VictimProfile(
        "video-cnn", "video", (1, 16, 64, 64), MovingDigits.class_names, VideoCNN, MovingDigits,
        "3D CNN trained on clips of moving MNIST digits",
        patch_size=(2, 8, 8),  # 8 x 8 x 8 = 512 cubes
        # Each labelled state costs 2,048 video queries here.
        agent_recipe={"cells_per_patch": (1, 2, 2), "n_inputs": 200, "teacher_steps": 2,
                      "single_filter_share": 0.75, "imitation_epochs": 40, "ppo_steps": 15_000, "n_val": 60,
                      "dagger_rounds": 0},
        training={"epochs": 14, "batch_size": 32, "lr": 2e-3, "fresh_data_each_epoch": True},
        # A video query costs about four ECG queries and a video epoch about a minute: the default
        # preset attacks fewer clips, to stay within about an hour.
        robustness={"square_eps": 0.05, "batch_size": 32,
                    "sizes": {"default": {"n_attack_inputs": 400, "n_val_attacks": 100, "clean_per_epoch": 3500,
                                          "n_eval": 100, "n_square": 50}}}),
    VictimProfile(
        "video-imagenet-frames", "video", (3, 8, 224, 224), IMAGENET_CLASSES,
        lambda: FramesClassifier(EfficientNetLite0()), NaturalClips,
        "EfficientNet-Lite0 on 8 frames of a clip, probabilities averaged",
        patch_size=(8, 32, 32),  # 1 x 7 x 7 = 49 cubes: the image agent sees them as tiles
        agent="imagenet-efficientnet-lite0"),
    # The localisation victims: their test splits carry exact ground-truth masks (Explain page).
    VictimProfile(
        "ecg-loc-cnn", "ecg", (1, 560), EcgStrips.class_names, EcgStripCNN, EcgStrips,
        "1D CNN finding the abnormal beat in strips of four ECG5000 beats",
        patch_size=(20,),  # 28 windows of 20 samples, 7 per beat
        strengths=ECG_STRENGTHS,
        agent_recipe={"cells_per_patch": (5,), "n_inputs": 1500},
        training={"epochs": 40, "batch_size": 64, "lr": 3e-3, "stretch_and_noise": True},
        robustness={"square_eps": 0.03, "batch_size": 64}),
    VictimProfile(
        "image-loc-cnn", "image", (1, 64, 64), FashionOnTexture.class_names, TextureImageCNN, FashionOnTexture,
        "CNN classifying Fashion-MNIST garments pasted on real textures",
        patch_size=(8, 8),  # 8 x 8 = 64 tiles
        # Kept small so that it trains in about half an hour here.
        agent_recipe={"cells_per_patch": (4, 4), "n_inputs": 500, "dagger_rounds": 0, "ppo_steps": 10_000},
        training={"epochs": 10, "batch_size": 128, "lr": 2e-3, "flip_and_shift": True},
        robustness={"square_eps": 0.05, "batch_size": 128}),
    # The grid pointing game: four garments of four classes, each class explained in turn.
    VictimProfile(
        "image-grid-cnn", "image", (1, 64, 64), GarmentMosaic.class_names, TextureImageCNN, GarmentMosaic,
        "multi-label CNN naming the four Fashion-MNIST garments of a 2x2 mosaic on real texture",
        patch_size=(8, 8),  # 8 x 8 = 64 tiles, 16 per cell
        # image-loc-cnn's recipe; its agent is not trained yet (the RL explainer's is issue 16's).
        agent_recipe={"cells_per_patch": (4, 4), "n_inputs": 500, "dagger_rounds": 0, "ppo_steps": 10_000},
        training={"epochs": 12, "batch_size": 128, "lr": 2e-3, "flip_and_shift": True},
        multi_label=True, top_k=4),
    VictimProfile(
        "video-motion-cnn", "video", (1, 16, 64, 64), DigitClipMosaic.class_names, VideoMosaicCNN, DigitClipMosaic,
        "multi-label 3D CNN naming the four moving MNIST digits of a 2x2 clip mosaic",
        patch_size=(2, 8, 8),  # 8 x 8 x 8 = 512 cubes, as on video-cnn
        # video-cnn's attack agent serves it (the same grid, filters and clips); an explanation agent of its
        # own is issue 16's.
        agent="video-cnn",
        training={"epochs": 16, "batch_size": 32, "lr": 2e-3, "fresh_data_each_epoch": True},
        multi_label=True, top_k=4),
)}
DEFAULT_VICTIM = {"ecg": "ecg-cnn", "image": "image-cnn", "video": "video-cnn"}


def get_profile(name: str) -> VictimProfile:
    if name not in PROFILES:
        raise VictimError(f"unknown victim {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def victims_for(modality: str) -> list[str]:
    return [name for name, profile in PROFILES.items() if profile.modality == modality]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (the first 16 hex digits), to tie results to weights; ``"missing"`` if there is none."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"
