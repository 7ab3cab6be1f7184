"""The localisation sets: their ground truth lines up with the object, pixel for pixel."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rlab_core.datasets import (
    SPLITS,
    EcgStrips,
    FashionMNIST,
    FashionOnTexture,
    MovingDigits,
    ecg_strips,
    fashion_on_texture,
)
from rlab_core.datasets.ecg5000 import BEAT_LENGTH, _split_indices, _table

ITEMS = range(0, 2000, 97)  # a spread of items, cheap enough for every split


# -- FashionOnTexture -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def textures() -> dict[str, FashionOnTexture]:
    return {split: FashionOnTexture(split) for split in SPLITS}


def placement(data: FashionOnTexture, i: int) -> tuple[int, int, int, int, int]:
    """``(texture, top, left, row, col)`` of item ``i``, re-derived from the dataset's seeded rng
    (checked against the pixels by the tests)."""
    rng = np.random.default_rng([fashion_on_texture.SPLIT_SEED, SPLITS.index(data.split), i])
    texture = int(rng.integers(len(fashion_on_texture.TEXTURES)))
    height = fashion_on_texture.textures().shape[1]
    top = int(rng.integers(0, height - fashion_on_texture.SIZE + 1))
    left = int(rng.integers(*data._columns()))
    row, col = (int(v) for v in rng.integers(0, fashion_on_texture.SIZE - fashion_on_texture.ITEM + 1, size=2))
    return texture, top, left, row, col


def test_texture_items_have_the_agreed_shape_range_and_sizes(textures) -> None:
    for split, size in fashion_on_texture.ITEMS.items():
        assert len(textures[split]) == size
    sample = textures["test"][0]
    assert tuple(sample.x.shape) == (1, 64, 64) and sample.x.dtype == torch.float32
    assert 0.0 <= float(sample.x.min()) and float(sample.x.max()) <= 1.0
    assert tuple(sample.mask.shape) == (64, 64) and sample.mask.dtype == torch.bool
    assert set(np.unique(textures["test"].labels)) == set(range(10))
    pixels = fashion_on_texture.textures()
    assert pixels.shape == (3, 512, 512) and float(pixels.min()) == 0.0
    assert float(pixels.max()) == pytest.approx(fashion_on_texture.TEXTURE_RANGE)


@pytest.mark.parametrize("split", SPLITS)
def test_the_mask_is_the_pasted_garment(split: str, textures) -> None:
    data, garments = textures[split], FashionMNIST(split)
    item, threshold = fashion_on_texture.ITEM, fashion_on_texture.OBJECT_THRESHOLD
    for i in ITEMS:
        sample = data[i]
        x, mask = sample.x[0].numpy(), sample.mask.numpy()
        garment = garments.images[i].astype(np.float32) / 255.0
        # the label is the garment's Fashion-MNIST label
        assert sample.y == int(garments.labels[i]) == int(data.labels[i])
        # the mask's area is the garment's count of pixels above the threshold
        assert int(mask.sum()) == int((garment > threshold).sum()) > 0
        texture, top, left, row, col = placement(data, i)
        expected = np.zeros((64, 64), dtype=bool)
        expected[row:row + item, col:col + item] = garment > threshold
        assert np.array_equal(mask, expected), i
        # on the mask the image is the garment, exactly; off it, the texture's crop
        pasted = np.zeros((64, 64), dtype=np.float32)
        pasted[row:row + item, col:col + item] = garment
        assert np.array_equal(x[mask], pasted[mask]), i
        crop = fashion_on_texture.textures()[texture, top:top + 64, left:left + 64]
        assert np.array_equal(x[~mask], crop[~mask]), i


def test_test_crops_come_from_the_right_quarter_of_the_texture(textures) -> None:
    width = fashion_on_texture.textures().shape[2]
    quarter = 3 * width // 4
    lefts = {split: [placement(textures[split], i)[2] for i in range(0, fashion_on_texture.ITEMS[split], 7)]
             for split in SPLITS}
    assert min(lefts["test"]) >= quarter and max(lefts["test"]) + 64 <= width
    for split in ("train", "val"):
        assert min(lefts[split]) >= 0 and max(lefts[split]) + 64 <= quarter  # disjoint from the test region
    # the crops spread over their regions (not all from one place)
    assert max(lefts["test"]) - min(lefts["test"]) > 32 and max(lefts["train"]) - min(lefts["train"]) > 200


def test_texture_items_are_a_pure_function_of_split_and_index(textures) -> None:
    again = FashionOnTexture("test")
    for i in (0, 5, 1999):
        first, second = textures["test"][i], again[i]
        assert torch.equal(first.x, second.x) and torch.equal(first.mask, second.mask) and first.y == second.y
    assert not torch.equal(textures["test"][0].x, textures["val"][0].x)
    x, y = _Small(textures["test"]).arrays()
    assert tuple(x.shape) == (3, 1, 64, 64) and torch.equal(x[2], textures["test"][2].x)
    assert y.tolist() == textures["test"].labels[:3].tolist()


class _Small(FashionOnTexture):
    """The first three items of a split, to check ``arrays`` cheaply."""

    def __init__(self, data: FashionOnTexture) -> None:
        self.split, self.garments, self.labels = data.split, data.garments, data.labels[:3]


# -- EcgStrips -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strips() -> dict[str, EcgStrips]:
    return {split: EcgStrips(split) for split in SPLITS}


def source_rows(sample) -> list[int]:
    """The ECG5000 rows the strip's four beats are, found by undoing the scaling."""
    beats = _table()[0].astype(np.float64)
    low, high = sample.scale
    signal = low + sample.x[0].numpy().astype(np.float64) * (high - low)
    rows = []
    for segment in signal.reshape(ecg_strips.BEATS, BEAT_LENGTH):
        error = np.abs(beats - segment).max(axis=1)
        best, runner_up = np.argsort(error)[:2]
        assert error[best] < 1e-5 and error[runner_up] > 1e-3  # one row matches, and only one
        rows.append(int(best))
    return rows


def test_strips_have_the_agreed_shape_range_labels_and_sizes(strips) -> None:
    for split, size in ecg_strips.ITEMS.items():
        data = strips[split]
        assert len(data) == size
        assert np.bincount(data.labels).tolist() == [size // 3] * 3
    sample = strips["test"][4]
    assert tuple(sample.x.shape) == (1, 560) and sample.x.dtype == torch.float32
    assert float(sample.x.min()) == 0.0 and float(sample.x.max()) == 1.0
    assert sample.y == int(strips["test"].labels[4])
    x, y = strips["test"].arrays()
    assert tuple(x.shape) == (900, 1, 560) and torch.equal(x[4], sample.x) and y.tolist() == strips["test"].labels.tolist()


@pytest.mark.parametrize("split", SPLITS)
def test_the_mask_is_the_abnormal_beat(split: str, strips) -> None:
    labels = _table()[1]
    split_rows = set(_split_indices()[split].tolist())
    for i in range(0, 90, 2):
        sample = strips[split][i]
        rows = source_rows(sample)
        assert set(rows) <= split_rows, i  # every beat comes from the same split of ECG5000
        classes = labels[rows].tolist()
        if sample.y == 0:
            assert sample.mask is None and classes == [0, 0, 0, 0], i
            continue
        mask = sample.mask.numpy()
        assert mask.shape == (560,) and mask.dtype == bool
        where = np.flatnonzero(mask)
        assert len(where) == BEAT_LENGTH and where[0] % BEAT_LENGTH == 0, i
        assert np.array_equal(where, np.arange(where[0], where[0] + BEAT_LENGTH)), i  # contiguous
        slot = where[0] // BEAT_LENGTH
        assert classes[slot] in ecg_strips.SOURCE_CLASSES[sample.y], i
        assert [c for k, c in enumerate(classes) if k != slot] == [0, 0, 0], i


def test_abnormal_slots_vary_and_both_abnormal_classes_draw_from_their_sources(strips) -> None:
    data = strips["test"]
    slots = {int(data[i].mask.nonzero()[0]) // BEAT_LENGTH for i in range(1, 60, 3)}
    assert slots == {0, 1, 2, 3}
    odd_classes = set()
    for i in range(2, 200, 3):  # label 2: PVC or SP/EB beats, both kinds
        sample = data[i]
        slot = int(sample.mask.nonzero()[0]) // BEAT_LENGTH
        odd_classes.add(int(_table()[1][source_rows(sample)[slot]]))
    assert odd_classes == {2, 3}


def test_strip_splits_share_no_ecg5000_beat(strips) -> None:
    pools = {split: set(np.concatenate(strips[split].pools).tolist()) for split in SPLITS}
    assert not pools["train"] & pools["val"] and not pools["train"] & pools["test"] and not pools["val"] & pools["test"]
    labels = _table()[1]
    for split in SPLITS:
        assert pools[split] <= set(_split_indices()[split].tolist())
        assert 4 not in set(labels[list(pools[split])].tolist())  # "Unclassified" beats never enter a strip
    seen = {split: {row for i in range(30) for row in source_rows(strips[split][i])} for split in ("val", "test")}
    assert not seen["val"] & pools["test"] and not seen["test"] & pools["train"]


def test_strips_are_a_pure_function_of_split_and_index(strips) -> None:
    again = EcgStrips("test")
    for i in (0, 1, 2, 899):
        first, second = strips["test"][i], again[i]
        assert torch.equal(first.x, second.x) and first.y == second.y and first.scale == second.scale
        assert (first.mask is None and second.mask is None) or torch.equal(first.mask, second.mask)
    assert not torch.equal(strips["test"][1].x, strips["val"][1].x)


# -- MovingDigits (video-cnn's set, scored by the same protocol) --------------------------------

def test_moving_digit_masks_mark_exactly_the_non_zero_pixels() -> None:
    data = MovingDigits("test")
    for i in (0, 3, 250, 1499):
        sample = data[i]
        assert tuple(sample.mask.shape) == (16, 64, 64) and sample.mask.dtype == torch.bool
        assert torch.equal(sample.mask, sample.x[0] > 0)
        assert bool(sample.mask.flatten(1).any(dim=1).all())  # the digit is in every frame
