"""The grid pointing game's mosaics, multi-label victims, the top-k success rule, and what an
explanation targets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rlab_core.attacks import make_attack
from rlab_core.datasets import digit_mosaic
from rlab_core.datasets.digit_mosaic import DigitClipMosaic
from rlab_core.datasets.fashion_on_texture import OBJECT_THRESHOLD
from rlab_core.datasets.garment_mosaic import CELL, GarmentMosaic, cell_mask
from rlab_core.datasets.moving_digits import digits, split_indices
from rlab_core.explanations import class_index, target_of
from rlab_core.sample import Sample
from rlab_core.victims import Victim, VictimError, get_profile


@pytest.fixture(scope="module")
def mosaics() -> GarmentMosaic:
    return GarmentMosaic("test")


@pytest.mark.parametrize("index", [0, 1, 7, 1999])
def test_each_mosaic_holds_four_classes_one_per_cell_and_their_pixels(mosaics: GarmentMosaic, index: int) -> None:
    sample = mosaics[index]
    assert sample.x.shape == (1, 64, 64) and 0 <= sample.x.min() and sample.x.max() <= 1
    labels = [part.label for part in sample.parts]
    assert len(set(labels)) == 4 and sample.y == labels[0] and torch.equal(sample.mask, sample.parts[0].mask)
    cells = torch.stack([part.cell for part in sample.parts])
    assert (cells.sum(dim=0) == 1).all()  # the four cells tile the mosaic
    for k, part in enumerate(sample.parts):
        assert torch.equal(part.cell, cell_mask(k)) and int(part.cell.sum()) == CELL * CELL
        assert part.mask.any() and not (part.mask & ~part.cell).any()  # each garment inside its own cell
        assert (sample.x[0][part.mask] > OBJECT_THRESHOLD).all()  # the mask is the garment's bright pixels
    assert torch.equal(mosaics[index].x, sample.x)  # a pure function of split and index


def test_the_arrays_are_the_items_with_multi_hot_labels(mosaics: GarmentMosaic) -> None:
    x, targets = GarmentMosaic("val").arrays()
    assert x.shape == (2000, 1, 64, 64) and targets.shape == (2000, 10) and (targets.sum(dim=1) == 4).all()
    val = GarmentMosaic("val")
    for i in (0, 5):
        assert torch.equal(x[i], val[i].x)
        assert torch.equal(targets[i].nonzero().flatten(), torch.tensor(sorted(p.label for p in val[i].parts)))
    with pytest.raises(IndexError, match="out of range"):
        mosaics[len(mosaics)]


@pytest.mark.parametrize("index", [0, 3, 999])
def test_each_clip_mosaic_holds_four_digits_moving_inside_their_own_cells(index: int) -> None:
    clips = DigitClipMosaic("test")
    sample = clips[index]
    assert sample.x.shape == (1, 16, 64, 64) and 0 <= sample.x.min() and sample.x.max() <= 1
    labels = [part.label for part in sample.parts]
    assert len(set(labels)) == 4 and sample.y == labels[0]
    assert (torch.stack([part.cell for part in sample.parts]).sum(dim=0) == 1).all()  # the cells tile every frame
    for k, part in enumerate(sample.parts):
        assert torch.equal(part.cell, digit_mosaic.cell_mask(k)) and part.mask.shape == (16, 64, 64)
        assert not (part.mask & ~part.cell).any()  # a digit never leaves its cell
        assert all(part.mask[t].any() for t in range(16))  # and is seen in every frame
        assert torch.equal(part.mask, sample.x[0] * part.cell > 0)  # the mask is exactly its cell's bright pixels
    first, last = (sample.parts[0].mask[t].nonzero().float().mean(dim=0) for t in (0, 15))
    assert not torch.equal(first, last)  # it moves
    assert torch.equal(clips[index].x, sample.x) and not torch.equal(DigitClipMosaic("test", epoch=1)[index].x, sample.x)


def test_clip_mosaics_draw_their_digits_from_their_own_split_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blank the split's own digits and paint every other one white: a mosaic that held one would show it."""
    images, labels = digits()
    marked = np.full_like(images, 255)
    marked[split_indices()["test"]] = 0
    monkeypatch.setattr(digit_mosaic, "digits", lambda: (marked, labels))
    for i in range(0, 1000, 97):
        assert not DigitClipMosaic("test")[i].x.any()


def test_the_clip_mosaic_victim_is_multi_label_with_a_top_4_rule() -> None:
    profile = get_profile("video-motion-cnn")
    assert profile.multi_label and profile.top_k == 4 and profile.grid.n_patches == 512
    x, targets = DigitClipMosaic("val").arrays()
    assert x.shape == (1000, 1, 16, 64, 64) and (targets.sum(dim=1) == 4).all()
    victim = Victim.builtin("video-motion-cnn")
    hits = [sorted(np.argsort(-victim.probabilities(x[i]))[:4].tolist()) == targets[i].nonzero().flatten().tolist()
            for i in range(40)]
    assert np.mean(hits) > 0.8  # the shipped weights name the four digits of most validation mosaics


def test_the_mosaic_victim_is_multi_label_with_a_top_4_rule() -> None:
    profile = get_profile("image-grid-cnn")
    assert profile.multi_label and profile.top_k == 4 and profile.grid.n_patches == 64
    network = profile.build().eval()
    victim = Victim.like(network, "image-grid-cnn", name="untrained", weights="untrained", sha256=None)
    probs = victim.probabilities(GarmentMosaic("test")[0].x)
    logits = network(GarmentMosaic("test")[0].x[None])[0].detach().double()
    assert victim.multi_label and victim.top_k == 4
    assert np.allclose(probs, logits.sigmoid().numpy())  # each class on its own: no softmax
    with pytest.raises(VictimError, match="top_k"):
        Victim(network, (1, 64, 64), profile.class_names, patch_size=(8, 8), top_k=10)


def stepped_victim(top_k: int) -> tuple[Victim, torch.Tensor]:
    """Class 0 leads; changing patch 0 drops it below class 1, changing patch 1 as well below class 2."""
    x0 = torch.rand(1, 40, generator=torch.Generator().manual_seed(0))

    class Stepped(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.tensor([6.0, 5.0, 4.0, 2.0, -5.0]).repeat(len(x), 1)
            for patch in (0, 1):
                change = (x[:, 0, 4 * patch:4 * patch + 4] - x0[0, 4 * patch:4 * patch + 4]).abs().mean(dim=1)
                logits[:, 0] -= (100 * change).clamp(max=1.5)
            return logits

    return Victim(Stepped(), (1, 40), list("abcde"), patch_size=(4,), multi_label=True, top_k=top_k, name="stepped"), x0


@pytest.mark.parametrize("top_k,fooled,patches", [(1, True, 1), (2, True, 2), (3, False, None)])
def test_an_attack_succeeds_once_the_class_leaves_the_top_k(top_k: int, fooled: bool, patches: int | None) -> None:
    victim, x = stepped_victim(top_k)
    result = make_attack("greedy", filter="gaussian_noise").run(victim, x, 0, budget=80)
    assert result.success == fooled
    if fooled:
        probs = victim.probabilities(result.x_adv)
        assert 0 not in np.argsort(-probs)[:top_k] and result.l0_patches == patches


def test_an_explanation_targets_a_class_and_scores_it_against_that_classs_part(mosaics: GarmentMosaic) -> None:
    victim = Victim.like(get_profile("image-grid-cnn").build().eval(), "image-grid-cnn", name="untrained",
                         weights="untrained", sha256=None)
    sample = mosaics[3]
    third = sample.parts[2]
    target = target_of(victim, sample, third.label)
    assert target.label == third.label and torch.equal(target.truth, third.mask) and torch.equal(target.cell, third.cell)
    absent = next(c for c in range(10) if sample.part(c) is None)
    assert target_of(victim, sample, absent).truth is None  # nothing of that class to point at
    assert target_of(victim, sample).label == victim.predict(sample.x)  # a mosaic's default: the top-1
    single = Sample(sample.x, 3, "one garment", mask=third.mask)
    assert target_of(victim, single).truth is not None and target_of(victim, single, 4).truth is None


def test_a_class_is_named_by_name_or_index() -> None:
    names = get_profile("image-grid-cnn").class_names
    assert class_index("Bag", names) == names.index("Bag") == class_index("bag", names)
    assert class_index("3", names) == 3
    for bad in ("10", "-1", "Hat", ""):
        with pytest.raises(ValueError, match="unknown class"):
            class_index(bad, names)
