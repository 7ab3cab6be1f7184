"""The explanation scores on hand-made maps and masks whose answers are known (1D, 2D and 3D).

Protocol (docs/ARCHITECTURE.md, "Explanations"): dice and iou of the map's top-k with k = the
ground truth's area; dice_at_rl_area with k = rl_hard's area (rl_hard itself scored as a mask);
pointing = the first maximum lies in the truth dilated by one patch; ties in C order.
"""
from __future__ import annotations

import pytest
import torch

from rlab_core.explanations.metrics import (
    dice,
    dice_at_rl_area,
    dilate,
    iou,
    pointing,
    score,
    top_k_mask,
)


def mask_1d(length: int, *ranges: tuple[int, int]) -> torch.Tensor:
    m = torch.zeros(length, dtype=torch.bool)
    for start, stop in ranges:
        m[start:stop] = True
    return m


def box(shape: tuple[int, ...], *slices: slice) -> torch.Tensor:
    m = torch.zeros(shape, dtype=torch.bool)
    m[slices] = True
    return m


def graded(mask: torch.Tensor, high: float = 10.0) -> torch.Tensor:
    """A map that is ``high`` (plus a little C-order slope) on ``mask`` and small elsewhere."""
    slope = torch.linspace(0.0, 0.5, mask.numel()).reshape(mask.shape)
    return torch.where(mask, high + slope, slope)


# -- top_k_mask ---------------------------------------------------------------------------------

def test_top_k_picks_the_largest_elements_in_any_shape() -> None:
    values = torch.tensor([3.0, 9.0, 1.0, 7.0, 5.0])
    assert top_k_mask(values, 2).tolist() == [False, True, False, True, False]
    assert top_k_mask(values, 0).sum() == 0
    assert top_k_mask(values, 99).all()  # k above the size takes everything
    image = torch.tensor([[0.0, 4.0], [3.0, 1.0]])
    assert top_k_mask(image, 2).tolist() == [[False, True], [True, False]]
    clip = torch.zeros(2, 2, 2)
    clip[1, 0, 1] = 5.0
    assert top_k_mask(clip, 1).nonzero().tolist() == [[1, 0, 1]]
    assert top_k_mask(clip, 1).shape == clip.shape


def test_top_k_ties_are_broken_by_c_order() -> None:
    assert top_k_mask(torch.zeros(6), 2).tolist() == [True, True, False, False, False, False]
    image = torch.tensor([[1.0, 2.0, 2.0], [2.0, 2.0, 0.0]])
    # three of the four 2s: (0, 1), (0, 2), (1, 0), in C order; not (1, 1)
    assert top_k_mask(image, 3).tolist() == [[False, True, True], [True, False, False]]
    clip = torch.ones(2, 2, 2)
    assert top_k_mask(clip, 3).flatten().tolist() == [True, True, True, False, False, False, False, False]
    # the same ties give the same answer every time
    values = torch.zeros(50)
    values[[3, 17, 40]] = 1.0
    assert all(torch.equal(top_k_mask(values, 5), top_k_mask(values.clone(), 5)) for _ in range(3))
    assert top_k_mask(values, 5).nonzero().flatten().tolist() == [0, 1, 3, 17, 40]  # the three 1s, then 0s in C order


# -- dice and iou at the ground truth's area ----------------------------------------------------

TRUTHS = {
    "1d": mask_1d(12, (3, 7)),
    "2d": box((8, 8), slice(2, 4), slice(1, 5)),
    "3d": box((3, 6, 6), slice(0, 2), slice(1, 3), slice(3, 6)),
}


@pytest.mark.parametrize("case", sorted(TRUTHS))
def test_a_map_whose_top_k_is_the_truth_scores_one(case: str) -> None:
    truth = TRUTHS[case]
    values = graded(truth)
    assert dice(values, truth) == 1.0 and iou(values, truth) == 1.0
    assert dice(truth.float(), truth) == 1.0  # a binary map: its ties fall inside the truth


@pytest.mark.parametrize("case", sorted(TRUTHS))
def test_a_map_disjoint_from_the_truth_scores_zero(case: str) -> None:
    truth = TRUTHS[case]
    values = graded(~truth)  # every element outside the truth ranks above every one inside
    assert dice(values, truth) == 0.0 and iou(values, truth) == 0.0


def test_half_overlap_in_1d_by_hand() -> None:
    truth = mask_1d(10, (0, 4))             # area 4
    values = graded(mask_1d(10, (2, 6)))    # top-4 = {2, 3, 4, 5}: 2 of them in the truth
    assert dice(values, truth) == pytest.approx(2 * 2 / (4 + 4))  # 0.5
    assert iou(values, truth) == pytest.approx(2 / 6)


def test_partial_overlap_in_2d_by_hand() -> None:
    truth = box((6, 6), slice(0, 3), slice(0, 3))             # area 9
    values = graded(box((6, 6), slice(1, 4), slice(1, 4)))    # top-9 = a 3x3 block shifted by (1, 1): 4 inside
    assert dice(values, truth) == pytest.approx(2 * 4 / 18)
    assert iou(values, truth) == pytest.approx(4 / 14)


def test_partial_overlap_in_3d_by_hand() -> None:
    truth = box((4, 4, 4), slice(0, 2), slice(0, 2), slice(0, 2))   # area 8
    values = graded(box((4, 4, 4), slice(1, 3), slice(0, 2), slice(0, 2)))  # top-8 shifted one frame: 4 inside
    assert dice(values, truth) == pytest.approx(0.5)
    assert iou(values, truth) == pytest.approx(4 / 12)


def test_only_the_top_k_count_at_the_truths_area() -> None:
    truth = mask_1d(8, (0, 2))                                   # area 2
    values = torch.tensor([1.0, 2.0, 5.0, 4.0, 3.0, 0.5, 0.5, 0.5])  # both truth elements positive but ranked 4th, 5th
    assert dice(values, truth) == 0.0
    values[0] = 9.0                                               # now top-2 = {0, 2}: one of two
    assert dice(values, truth) == pytest.approx(0.5) and iou(values, truth) == pytest.approx(1 / 3)


def test_a_flat_map_is_scored_by_its_c_order_ties() -> None:
    flat = torch.zeros(10)
    assert dice(flat, mask_1d(10, (0, 3))) == 1.0  # the ties fall on the first three elements
    assert dice(flat, mask_1d(10, (7, 10))) == 0.0


# -- dice at rl_hard's area -------------------------------------------------------------------

def test_dice_at_rl_area_uses_rl_hards_area_for_k() -> None:
    truth = mask_1d(10, (0, 2))                           # area 2
    values = torch.arange(10, 0, -1).float()              # ranking 0, 1, 2, 3, ...
    rl_hard = mask_1d(10, (5, 9))                         # area 4 (where it is does not matter)
    # top-4 = {0, 1, 2, 3}, holding both truth elements: 2 * 2 / (4 + 2)
    assert dice_at_rl_area(values, truth, rl_hard) == pytest.approx(2 / 3)
    assert dice(values, truth) == 1.0                     # at the truth's own area it is perfect
    assert dice_at_rl_area(values, truth, mask_1d(10, (9, 10))) == pytest.approx(2 * 1 / 3)  # k = 1


def test_dice_at_rl_area_in_2d_and_3d() -> None:
    truth = box((4, 4), slice(0, 1), slice(0, 4))         # the first row, area 4
    values = graded(truth)
    rl_hard = box((4, 4), slice(2, 4), slice(0, 4))       # area 8: top-8 = the truth + 4 more
    assert dice_at_rl_area(values, truth, rl_hard) == pytest.approx(2 * 4 / 12)
    truth3 = box((2, 4, 4), slice(0, 1), slice(0, 2), slice(0, 2))  # area 4
    rl_hard3 = box((2, 4, 4), slice(1, 2), slice(0, 1), slice(0, 2))  # area 2
    assert dice_at_rl_area(graded(truth3), truth3, rl_hard3) == pytest.approx(2 * 2 / 6)


def test_dice_at_rl_area_is_none_for_an_empty_rl_hard() -> None:
    truth = mask_1d(10, (0, 2))
    assert dice_at_rl_area(torch.rand(10), truth, torch.zeros(10, dtype=torch.bool)) is None
    scores = score("saliency", torch.rand(10), truth, torch.zeros(10, dtype=torch.bool), (2,))
    assert scores["dice_at_rl_area"] is None
    empty_hard = score("rl_hard", torch.zeros(10), truth, torch.zeros(10, dtype=torch.bool), (2,))
    assert empty_hard["dice_at_rl_area"] is None


def test_rl_hard_is_scored_as_the_mask_it_is() -> None:
    truth = mask_1d(12, (0, 4))                                    # area 4
    rl_hard = mask_1d(12, (2, 8)).float()                          # area 6, 2 of them in the truth
    scores = score("rl_hard", rl_hard, truth, rl_hard > 0, (2,))
    assert scores["dice_at_rl_area"] == pytest.approx(2 * 2 / (6 + 4))  # the mask as it is
    # dice and iou still threshold to the truth's area: top-4 of the binary map = {2, 3, 4, 5}
    assert scores["dice"] == pytest.approx(2 * 2 / 8) and scores["iou"] == pytest.approx(2 / 6)
    # another map is thresholded at rl_hard's area (6): top-6 of this ranking = {0..5}
    ranking = torch.arange(12, 0, -1).float()
    assert score("rl", ranking, truth, rl_hard > 0, (2,))["dice_at_rl_area"] == pytest.approx(2 * 4 / 10)


def test_score_gives_every_metric() -> None:
    truth = box((6, 6), slice(0, 2), slice(0, 2))
    scores = score("ig", graded(truth), truth, truth, (2, 2))
    assert scores == {"dice": 1.0, "iou": 1.0, "dice_at_rl_area": 1.0, "pointing": True}


# -- pointing, with the truth dilated by one patch ---------------------------------------------

def test_dilate_grows_by_one_patch_along_every_axis() -> None:
    assert dilate(mask_1d(20, (8, 10)), (3,)).nonzero().flatten().tolist() == list(range(5, 13))
    assert dilate(mask_1d(6, (0, 1)), (2,)).tolist() == [True, True, True, False, False, False]  # no wrap-around
    grown = dilate(box((7, 7), slice(3, 4), slice(3, 4)), (1, 2))
    assert grown.tolist() == box((7, 7), slice(2, 5), slice(1, 6)).tolist()  # a box, corners included
    grown3 = dilate(box((5, 9, 9), slice(2, 3), slice(4, 5), slice(4, 5)), (1, 2, 3))
    assert torch.equal(grown3, box((5, 9, 9), slice(1, 4), slice(2, 7), slice(1, 8)))


def one_hot(shape: tuple[int, ...], *where: int, value: float = 1.0) -> torch.Tensor:
    values = torch.zeros(shape)
    values[where] = value
    return values


def test_pointing_in_1d_counts_one_patch_around_the_truth() -> None:
    truth, patch = mask_1d(60, (20, 30)), (5,)
    assert pointing(one_hot((60,), 25), truth, patch)        # inside
    assert pointing(one_hot((60,), 34), truth, patch)        # just outside, within one patch
    assert pointing(one_hot((60,), 15), truth, patch)        # one patch before
    assert not pointing(one_hot((60,), 35), truth, patch)    # one patch and one element after
    assert not pointing(one_hot((60,), 39), truth, patch)    # two patches away
    assert not pointing(one_hot((60,), 10), truth, patch)    # two patches before


def test_pointing_in_2d_uses_a_box_of_one_patch() -> None:
    truth, patch = box((20, 20), slice(8, 10), slice(8, 10)), (2, 3)
    assert pointing(one_hot((20, 20), 9, 9), truth, patch)
    assert pointing(one_hot((20, 20), 11, 12), truth, patch)       # diagonal, one patch away on both axes
    assert pointing(one_hot((20, 20), 6, 5), truth, patch)
    assert not pointing(one_hot((20, 20), 12, 9), truth, patch)    # rows: 3 > 2 past the truth
    assert not pointing(one_hot((20, 20), 9, 13), truth, patch)    # columns: 4 > 3 past the truth
    assert not pointing(one_hot((20, 20), 13, 15), truth, patch)   # two patches away on both axes


def test_pointing_in_3d() -> None:
    truth, patch = box((8, 16, 16), slice(3, 4), slice(6, 8), slice(6, 8)), (1, 4, 4)
    assert pointing(one_hot((8, 16, 16), 4, 11, 2), truth, patch)      # one frame, four rows, four columns off
    assert not pointing(one_hot((8, 16, 16), 5, 7, 7), truth, patch)   # two frames away
    assert not pointing(one_hot((8, 16, 16), 3, 7, 15), truth, patch)  # two patches away in columns


def test_pointing_takes_the_first_maximum_in_c_order() -> None:
    truth, patch = mask_1d(40, (30, 32)), (2,)
    values = torch.zeros(40)
    values[[5, 31]] = 1.0  # a tie: the first maximum (5) is far from the truth
    assert not pointing(values, truth, patch)
    values[5] = 0.5
    assert pointing(values, truth, patch)
    assert not pointing(torch.zeros(40), truth, patch)  # a flat map points at element 0
    assert pointing(torch.zeros(40), mask_1d(40, (1, 3)), patch)
    image = torch.zeros(6, 6)
    image[0, 5] = image[5, 0] = 3.0  # (0, 5) comes first in C order
    assert pointing(image, box((6, 6), slice(0, 1), slice(5, 6)), (1, 1))
    assert not pointing(image, box((6, 6), slice(5, 6), slice(0, 1)), (1, 1))


# -- shapes ------------------------------------------------------------------------------------

def test_a_shape_mismatch_raises() -> None:
    truth = torch.zeros(4, 4, dtype=torch.bool)
    truth[0, 0] = True
    with pytest.raises(ValueError, match="shape"):
        dice(torch.rand(4, 5), truth)
    with pytest.raises(ValueError, match="shape"):
        iou(torch.rand(16), truth)
    with pytest.raises(ValueError, match="shape"):
        pointing(torch.rand(1, 4, 4), truth, (1, 1))
    with pytest.raises(ValueError, match="shape"):
        dice_at_rl_area(torch.rand(4, 5), truth, truth)
    with pytest.raises(ValueError, match="shape"):
        dice_at_rl_area(torch.rand(4, 4), truth, torch.ones(16, dtype=torch.bool))  # rl_hard too
    with pytest.raises(ValueError, match="shape"):
        score("saliency", torch.rand(4, 4, 1), truth, truth, (1, 1))
