"""Scores of a map against a ground-truth mask, by the fixed protocol of ``docs/ARCHITECTURE.md``.

- ``dice`` and ``iou``: the map thresholded to its top-k elements, k = the ground truth's area.
- ``dice_at_rl_area``: the same with k = the area of ``rl_hard``; ``rl_hard`` itself is scored
  as it is (a mask, not a ranking). ``None`` where ``rl_hard`` is empty (no attack succeeded).
- ``pointing``: the map's largest element (ties: the first in C order) lies inside the ground
  truth dilated by one patch along every non-channel axis.
- ``gridpg`` (the grid pointing game, Böhle et al., CVPR 2022): where the input is a mosaic of
  cells, the share of the map's positive attribution inside the explained class's cell.

Top-k ties are broken by C order too, so every score is a pure function of its inputs. Masks
and maps of any number of axes (1D, 2D, 3D) are accepted; they must have the same shape.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


def top_k_mask(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the ``k`` largest elements of ``values`` (ties: the first in C order)."""
    flat = values.flatten().double()
    order = torch.argsort(-flat, stable=True)
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    mask[order[:max(0, int(k))]] = True
    return mask.reshape(values.shape)


def dice_of_masks(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    predicted, truth = predicted.bool(), truth.bool()
    total = int(predicted.sum() + truth.sum())
    return 2.0 * int((predicted & truth).sum()) / total if total else 0.0


def iou_of_masks(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    predicted, truth = predicted.bool(), truth.bool()
    union = int((predicted | truth).sum())
    return int((predicted & truth).sum()) / union if union else 0.0


def _check(values: torch.Tensor, truth: torch.Tensor) -> None:
    if tuple(values.shape) != tuple(truth.shape):
        raise ValueError(f"map {tuple(values.shape)} and ground truth {tuple(truth.shape)} differ in shape")


def dice(values: torch.Tensor, truth: torch.Tensor) -> float:
    """Dice of the map's top-k (k = ground-truth area) with the ground truth."""
    _check(values, truth)
    return dice_of_masks(top_k_mask(values, int(truth.bool().sum())), truth)


def iou(values: torch.Tensor, truth: torch.Tensor) -> float:
    """IoU of the map's top-k (k = ground-truth area) with the ground truth."""
    _check(values, truth)
    return iou_of_masks(top_k_mask(values, int(truth.bool().sum())), truth)


def dice_at_rl_area(values: torch.Tensor, truth: torch.Tensor, rl_hard: torch.Tensor) -> float | None:
    """Dice of the map's top-k with k = the area of ``rl_hard`` (a bool element mask)."""
    _check(values, truth)
    _check(rl_hard, truth)
    area = int(rl_hard.bool().sum())
    return dice_of_masks(top_k_mask(values, area), truth) if area else None


def dilate(truth: torch.Tensor, patch_size: tuple[int, ...]) -> torch.Tensor:
    """The mask grown by ``patch_size`` elements along each axis (a box of one patch each way)."""
    kernel = tuple(2 * p + 1 for p in patch_size)
    grown = MAX_POOL[truth.dim()](truth.float()[None, None], kernel, stride=1, padding=tuple(patch_size))
    return grown[0, 0].bool()


def pointing(values: torch.Tensor, truth: torch.Tensor, patch_size: tuple[int, ...]) -> bool:
    """Whether the map's maximum (the first in C order) falls inside the dilated ground truth."""
    _check(values, truth)
    top = int(torch.argsort(-values.flatten().double(), stable=True)[0])
    return bool(dilate(truth.bool(), patch_size).flatten()[top])


def gridpg(values: torch.Tensor, cell: torch.Tensor) -> float:
    """The share of the map's positive attribution inside bool mask ``cell`` (0 for a map with none)."""
    _check(values, cell)
    positive = values.double().clamp(min=0)
    total = float(positive.sum())
    return float(positive[cell.bool()].sum()) / total if total > 0 else 0.0


def score(method: str, values: torch.Tensor, truth: torch.Tensor, rl_hard: torch.Tensor,
          patch_size: tuple[int, ...], cell: torch.Tensor | None = None) -> dict:
    """Every metric of one map: ``dice, iou, dice_at_rl_area, pointing``, and ``gridpg`` given the
    explained class's ``cell``."""
    if method == "rl_hard":  # a mask, scored as it is
        at_rl_area = dice_of_masks(values > 0, truth) if values.any() else None
    else:
        at_rl_area = dice_at_rl_area(values, truth, rl_hard)
    scores = {"dice": dice(values, truth), "iou": iou(values, truth), "dice_at_rl_area": at_rl_area,
              "pointing": pointing(values, truth, patch_size)}
    if cell is not None:
        scores["gridpg"] = gridpg(values, cell)
    return scores


VALIDITY_BOUND = 0.35  # the most a model-free control may score on a valid set, in Dice and in GridPG


def validity(control_means: dict[str, dict[str, float | None]], bound: float = VALIDITY_BOUND) -> dict:
    """Whether a set can tell an explanation from a map that ignores the model: every model-free
    control's mean ``dice`` (and ``gridpg`` where scored) at most ``bound``. ``control_means``:
    control -> metric -> mean. Returns ``{"valid", "bound", "failures"}``, each failure a line."""
    failures = [f"{name} scores {metric} {value:.3f} > {bound}"
                for name, means in control_means.items() for metric in ("dice", "gridpg")
                if (value := means.get(metric)) is not None and value > bound]
    return {"valid": not failures, "bound": bound, "failures": failures}
