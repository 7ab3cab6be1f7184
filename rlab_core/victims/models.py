"""The network definitions of the trained victims. Each takes inputs in ``[0, 1]`` and returns logits."""
from __future__ import annotations

import torch
from torch import nn


def _block(conv: type[nn.Module], norm: type[nn.Module], c_in: int, c_out: int, **kwargs) -> list[nn.Module]:
    return [conv(c_in, c_out, bias=False, **kwargs), norm(c_out), nn.ReLU(inplace=True)]


class EcgCNN(nn.Module):
    """1D CNN for one heartbeat ``(B, 1, 140)``.

    Each beat is standardised inside the model (as the UCR archive z-normalises its beats), so
    the ``[0, 1]`` min-max scaling of the input carries no information the model could lean on.
    """

    def __init__(self, n_classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(nn.Conv1d, nn.BatchNorm1d, 1, 32, kernel_size=7, padding=3),
            *_block(nn.Conv1d, nn.BatchNorm1d, 32, 64, kernel_size=5, padding=2),
            nn.MaxPool1d(2),
            *_block(nn.Conv1d, nn.BatchNorm1d, 64, 64, kernel_size=5, padding=2),
            nn.MaxPool1d(2),
            *_block(nn.Conv1d, nn.BatchNorm1d, 64, 128, kernel_size=3, padding=1),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + 1e-6)
        return self.head(self.features(x))


class ImageCNN(nn.Module):
    """Small 2D CNN for a ``(B, 1, 28, 28)`` Fashion-MNIST image."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(nn.Conv2d, nn.BatchNorm2d, 1, 32, kernel_size=3, padding=1),
            *_block(nn.Conv2d, nn.BatchNorm2d, 32, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            *_block(nn.Conv2d, nn.BatchNorm2d, 32, 64, kernel_size=3, padding=1),
            *_block(nn.Conv2d, nn.BatchNorm2d, 64, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class VideoCNN(nn.Module):
    """Small 3D CNN for a ``(B, 1, 16, 64, 64)`` clip."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(nn.Conv3d, nn.BatchNorm3d, 1, 16, kernel_size=3, padding=1, stride=(1, 2, 2)),
            *_block(nn.Conv3d, nn.BatchNorm3d, 16, 32, kernel_size=3, padding=1, stride=2),
            *_block(nn.Conv3d, nn.BatchNorm3d, 32, 64, kernel_size=3, padding=1, stride=2),
            *_block(nn.Conv3d, nn.BatchNorm3d, 64, 128, kernel_size=3, padding=1, stride=(1, 2, 2)),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class VideoMosaicCNN(VideoCNN):
    """:class:`VideoCNN` with global max pooling, for a clip mosaic: each class's score comes from
    wherever its digit is, however many other digits share the clip."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__(n_classes)
        self.head[0] = nn.AdaptiveMaxPool3d(1)


class EcgStripCNN(nn.Module):
    """1D CNN for a strip of several beats ``(B, 1, 560)``: is one of them abnormal, and how?

    Standardised per strip like :class:`EcgCNN`; global max pooling, because one odd beat
    anywhere decides the class however many normal beats surround it.
    """

    def __init__(self, n_classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(nn.Conv1d, nn.BatchNorm1d, 1, 32, kernel_size=7, padding=3),
            nn.MaxPool1d(2),
            *_block(nn.Conv1d, nn.BatchNorm1d, 32, 64, kernel_size=5, padding=2),
            nn.MaxPool1d(2),
            *_block(nn.Conv1d, nn.BatchNorm1d, 64, 64, kernel_size=5, padding=2),
            nn.MaxPool1d(2),
            *_block(nn.Conv1d, nn.BatchNorm1d, 64, 128, kernel_size=5, padding=2),
        )
        self.head = nn.Sequential(nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + 1e-6)
        return self.head(self.features(x))


class TextureImageCNN(nn.Module):
    """2D CNN for a ``(B, 1, 64, 64)`` garment on a textured background; global max pooling
    finds the garment wherever it lies."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(nn.Conv2d, nn.BatchNorm2d, 1, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            *_block(nn.Conv2d, nn.BatchNorm2d, 32, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            *_block(nn.Conv2d, nn.BatchNorm2d, 64, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            *_block(nn.Conv2d, nn.BatchNorm2d, 64, 128, kernel_size=3, padding=1),
        )
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
