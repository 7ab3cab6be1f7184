"""The built-in victims: what each one is, what it eats, where its weights and data are."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from rlab_core import ASSETS
from rlab_core.datasets import (
    ECG5000,
    EcgStrips,
    FashionMNIST,
    FashionOnTexture,
    MovingDigits,
    NaturalClips,
    NaturalImages,
)
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
)

MODALITIES = ("ecg", "image", "video")
WEIGHTS = ASSETS / "victims"


@dataclass(frozen=True)
class VictimSpec:
    """A built-in victim. ``input_shape`` excludes the batch; inputs are in ``[0, 1]``."""

    name: str
    modality: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    build: Callable[[], nn.Module]
    dataset: Callable[[str], object]
    description: str
    trained_here: bool = True  # False: pretrained weights that come with a pip package
    # Filter strengths that differ from the filters' defaults for this victim's inputs.
    strengths: dict[str, float] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return WEIGHTS / f"{self.name}.pt" if self.trained_here else Path(imagenet_weights_path())


VICTIMS: dict[str, VictimSpec] = {spec.name: spec for spec in (
    # On an ECG, a dead segment is flat at the baseline: the whole window dies, not every other sample.
    VictimSpec("ecg-cnn", "ecg", (1, 140), ECG5000.class_names, EcgCNN, ECG5000,
               "1D CNN trained on ECG5000 heartbeats", strengths={"dead_pixel": 1.0}),
    VictimSpec("image-cnn", "image", (1, 28, 28), FashionMNIST.class_names, ImageCNN, FashionMNIST,
               "small CNN trained on Fashion-MNIST"),
    VictimSpec("imagenet-efficientnet-lite0", "image", (3, 224, 224), IMAGENET_CLASSES, EfficientNetLite0,
               NaturalImages, "EfficientNet-Lite0 pretrained on ImageNet", trained_here=False),
    VictimSpec("video-cnn", "video", (1, 16, 64, 64), MovingDigits.class_names, VideoCNN, MovingDigits,
               "3D CNN trained on clips of moving MNIST digits"),
    VictimSpec("video-imagenet-frames", "video", (3, 8, 224, 224), IMAGENET_CLASSES,
               lambda: FramesClassifier(EfficientNetLite0()), NaturalClips,
               "EfficientNet-Lite0 on 8 frames of a clip, probabilities averaged", trained_here=False),
    # The localisation victims: their test splits carry exact ground-truth masks (Explain page).
    VictimSpec("ecg-loc-cnn", "ecg", (1, 560), EcgStrips.class_names, EcgStripCNN, EcgStrips,
               "1D CNN finding the abnormal beat in strips of four ECG5000 beats", strengths={"dead_pixel": 1.0}),
    VictimSpec("image-loc-cnn", "image", (1, 64, 64), FashionOnTexture.class_names, TextureImageCNN, FashionOnTexture,
               "CNN classifying Fashion-MNIST garments pasted on real textures"),
)}
DEFAULT_VICTIM = {"ecg": "ecg-cnn", "image": "image-cnn", "video": "video-cnn"}


class VictimError(ValueError):
    """A victim that does not exist or whose weights cannot be loaded."""


def get_spec(name: str) -> VictimSpec:
    if name not in VICTIMS:
        raise VictimError(f"unknown victim {name!r}; choose one of: {', '.join(VICTIMS)}")
    return VICTIMS[name]


def victims_for(modality: str) -> list[str]:
    return [name for name, spec in VICTIMS.items() if spec.modality == modality]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (the first 16 hex digits), to tie results to weights; ``"missing"`` if there is none."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


def weights_hash(name: str) -> str:
    """:func:`file_sha256` of the victim's shipped weights file."""
    return file_sha256(get_spec(name).weights_path)


@lru_cache(maxsize=8)
def load_model(name: str) -> nn.Module:
    """The victim's network in eval mode, its weights loaded without unpickling (``weights_only``)."""
    spec = get_spec(name)
    model = spec.build()
    if spec.trained_here:
        if not spec.weights_path.exists():
            raise VictimError(f"no weights for {name} at {spec.weights_path}; "
                              f"train them with: python -m rlab_core train-victim --victim {name}")
        model.load_state_dict(torch.load(spec.weights_path, map_location="cpu", weights_only=True))
    return model.eval()


@torch.no_grad()
def predict_proba(name: str, x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
    """Class probabilities for one input ``x`` of the victim's ``input_shape``, or a batch of them,
    from the shipped network or ``model`` (other weights of the same network, e.g. hardened ones)."""
    spec = get_spec(name)
    batch = x if x.dim() == len(spec.input_shape) + 1 else x[None]
    if tuple(batch.shape[1:]) != spec.input_shape:
        raise VictimError(f"{name} expects inputs of shape {spec.input_shape}, got {tuple(x.shape)}")
    probs = (load_model(name) if model is None else model)(batch.float()).softmax(dim=-1)
    return probs if x.dim() == len(spec.input_shape) + 1 else probs[0]
