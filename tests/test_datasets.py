"""Loaders return real data in the agreed shape, and the splits are fixed, disjoint and stratified."""
from __future__ import annotations

import numpy as np
import pytest

from rlab_core.datasets import (
    ECG5000,
    FashionMNIST,
    MovingDigits,
    NaturalClips,
    NaturalImages,
    stratified_split,
)
from rlab_core.datasets.moving_digits import split_indices as digit_splits
from rlab_core.datasets.natural import CLIP_SPLIT, PHOTO_SPLIT


def test_stratified_split_is_disjoint_complete_seeded_and_keeps_class_shares() -> None:
    labels = np.repeat(np.arange(4), [500, 300, 30, 3])
    parts = stratified_split(labels, (0.7, 0.15, 0.15), seed=1)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(len(labels)))
    for label, count in zip(range(4), [500, 300, 30, 3]):
        assert np.sum(labels[parts["test"]] == label) == max(1, round(0.15 * count))
    again = stratified_split(labels, (0.7, 0.15, 0.15), seed=1)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["train"], stratified_split(labels, (0.7, 0.15, 0.15), seed=2)["train"])


@pytest.mark.parametrize("dataset,shape,n_classes,sizes", [
    (ECG5000, (1, 140), 5, {"train": 3500, "val": 750, "test": 750}),
    (FashionMNIST, (1, 28, 28), 10, {"train": 54000, "val": 6000, "test": 10000}),
    (MovingDigits, (1, 16, 64, 64), 10, {"train": 7000, "val": 1500, "test": 1500}),
])
def test_labelled_sets_have_fixed_sizes_shapes_and_every_class(dataset, shape, n_classes, sizes) -> None:
    for split, size in sizes.items():
        data = dataset(split)
        assert len(data) == size
        assert set(np.unique(data.labels)) == set(range(n_classes))
    sample = dataset("test")[0]
    assert tuple(sample.x.shape) == shape
    assert 0.0 <= float(sample.x.min()) and float(sample.x.max()) <= 1.0
    assert sample.y == int(dataset("test").labels[0])


def test_ecg_beats_are_scaled_per_recording_and_the_scale_undoes_it() -> None:
    from rlab_core.datasets.ecg5000 import _table

    data = ECG5000("test")
    sample = data[5]
    low, high = sample.scale
    original = _table()[0][data.indices[5]]
    np.testing.assert_allclose(low + sample.x.numpy()[0] * (high - low), original, atol=1e-5)
    assert float(sample.x.min()) == 0.0 and float(sample.x.max()) == 1.0


def test_ecg_split_keeps_the_rare_classes_in_test() -> None:
    counts = np.bincount(ECG5000("test").labels, minlength=5)
    assert counts.tolist() == [438, 265, 14, 29, 4]


def test_moving_digit_masks_mark_the_digit_and_test_clips_are_fixed() -> None:
    first, again = MovingDigits("test")[7], MovingDigits("test")[7]
    assert (first.x == again.x).all()
    assert first.mask.shape == first.x.shape[1:]
    assert bool(((first.x[0] > 0) == first.mask).all())  # the background is exactly zero
    assert all(int(first.mask[t].sum()) > 0 for t in range(16))  # the digit is in every frame
    assert not (MovingDigits("train", epoch=0)[0].x == MovingDigits("train", epoch=1)[0].x).all()


def test_digit_splits_share_no_digit() -> None:
    parts = digit_splits()
    assert not set(parts["train"]) & set(parts["test"]) and not set(parts["val"]) & set(parts["test"])


def test_natural_splits_share_no_source() -> None:
    photos = [set(names) for names in PHOTO_SPLIT.values()]
    clips = [set(names) for names in CLIP_SPLIT.values()]
    for group in (photos, clips):
        assert not (group[0] & group[1] or group[0] & group[2] or group[1] & group[2])
    test_sources = {NaturalImages("test").items[i][1] for i in range(len(NaturalImages("test")))}
    train_sources = {NaturalImages("train").items[i][1] for i in range(len(NaturalImages("train")))}
    assert not test_sources & train_sources


def test_natural_items_fit_the_imagenet_input() -> None:
    assert tuple(NaturalImages("test")[0].x.shape) == (3, 224, 224)
    clip = NaturalClips("test")[0]
    assert tuple(clip.x.shape) == (3, 8, 224, 224) and clip.y is None
