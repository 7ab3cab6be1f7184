"""Each victim loads from its shipped weights and reaches its measured accuracy on its test split."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlab_core import ROOT
from rlab_core.datasets import NaturalImages
from rlab_core.victims import PROFILES, Victim, get_profile
from rlab_core.victims import victim as victim_module

AIMS = {"ecg-cnn": 0.95, "image-cnn": 0.91, "video-cnn": 0.95}
MEASURED = json.loads((ROOT / "benchmarks" / "victims.json").read_text())["victims"]
N_CHECK = 500


@pytest.mark.parametrize("name", sorted(AIMS))
def test_trained_victim_reaches_its_figure_on_500_seeded_test_items(name: str) -> None:
    spec = get_profile(name)
    data = spec.dataset("test")
    picked = np.random.default_rng(0).choice(len(data), size=N_CHECK, replace=False)
    samples = [data[int(i)] for i in picked]
    x = torch.stack([s.x for s in samples])
    y = torch.tensor([s.y for s in samples])
    accuracy = float((Victim.builtin(name).probabilities(x).argmax(-1) == y.numpy()).mean())
    assert accuracy >= AIMS[name] - 0.02  # 500 items: the sampling error is about 0.01
    assert abs(accuracy - MEASURED[name]["accuracy"]) < 0.03


def test_weights_load_without_unpickling(monkeypatch) -> None:
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    victim_module._shipped_network.cache_clear()
    try:
        for name in PROFILES:
            Victim.builtin(name)
    finally:
        victim_module._shipped_network.cache_clear()
    assert calls and all(flag is True for flag in calls)


@pytest.mark.parametrize("photo,expected", [("chelsea", {"Egyptian cat", "tabby", "tiger cat"}), ("coffee", {"espresso", "cup"})])
def test_imagenet_victim_names_real_photos(photo: str, expected: set[str]) -> None:
    data = NaturalImages("test")
    index = [item[1] for item in data.items].index(photo)
    probs = Victim.builtin("imagenet-efficientnet-lite0").probabilities(data[index].x)
    assert get_profile("imagenet-efficientnet-lite0").class_names[int(probs.argmax())] in expected


def test_frames_victim_averages_per_frame_probabilities() -> None:
    clip = get_profile("video-imagenet-frames").dataset("test")[0].x
    per_frame = torch.from_numpy(Victim.builtin("imagenet-efficientnet-lite0").probabilities(clip.permute(1, 0, 2, 3)))
    torch.testing.assert_close(torch.from_numpy(Victim.builtin("video-imagenet-frames").probabilities(clip)),
                               per_frame.mean(0), atol=1e-5, rtol=1e-4)


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"expected an input of shape \(1, 28, 28\)"):
        Victim.builtin("image-cnn").probabilities(torch.zeros(3, 28, 28))
