"""Real data, one loader per set, each with a fixed seeded train/val/test split.

Every loader is indexable and returns :class:`Sample` items whose ``x`` is channels first in
``[0, 1]``. Labelled sets also offer ``arrays()`` (the whole split as tensors) and ``labels``.
"""
from rlab_core.datasets.base import SPLITS, stratified_split
from rlab_core.datasets.digit_mosaic import DigitClipMosaic
from rlab_core.datasets.ecg5000 import ECG5000
from rlab_core.datasets.ecg_strips import EcgStrips
from rlab_core.datasets.fashion_mnist import FashionMNIST
from rlab_core.datasets.fashion_on_texture import FashionOnTexture
from rlab_core.datasets.garment_mosaic import GarmentMosaic
from rlab_core.datasets.moving_digits import MovingDigits
from rlab_core.datasets.natural import NaturalClips, NaturalImages
from rlab_core.sample import Sample

__all__ = ["ECG5000", "SPLITS", "DigitClipMosaic", "EcgStrips", "FashionMNIST", "FashionOnTexture", "GarmentMosaic",
           "MovingDigits", "NaturalClips", "NaturalImages", "Sample", "stratified_split"]
