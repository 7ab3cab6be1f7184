"""RISE (Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
Models", BMVC 2018), written from the paper, on the attack's own patch grid.

Black-box: ``N`` random binary masks on a coarse grid (one cell per patch, each cell kept with
probability ``p = 1/2``), each upsampled smoothly (linear, bilinear or trilinear for 1, 2 or 3
non-channel axes) to one cell more than the input along every axis and cropped back to the input
at a random shift of less than a cell, so that the cell borders fall anywhere. The victim sees
``x * m + reference * (1 - m)`` (the reference is each channel's median) and the saliency is
``sum_i P(label | masked_i) * m_i / (N * p)``: the expected probability of the label when an
element is kept. Cost: exactly ``N`` queries, one per mask, no clean query.

The masks are drawn one at a time from a generator seeded with ``seed``, so a run of ``N`` masks
begins with the ``N'`` masks of any shorter run of the same seed: :func:`rise_at_budgets` reads
every budget's map off one run.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from rlab_core.explanations.base import AttributionMap, reference_input
from rlab_core.patches import PatchGrid
from rlab_core.victims.blackbox import BlackBox

KEEP = 0.5  # the paper's p
UPSAMPLING = {1: "linear", 2: "bilinear", 3: "trilinear"}
BATCH = 64


def random_masks(grid: PatchGrid, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` smooth masks of shape ``grid.spatial_shape`` in ``[0, 1]``, ``(n, *spatial)``.

    Each draws its cells, then its shift, from ``generator`` before the next mask's: the masks of a
    seed do not depend on how many are drawn at once.
    """
    cells = tuple(g + 1 for g in grid.grid_shape)  # one cell spare, so every shift still covers the input
    drawn = [((torch.rand(cells, generator=generator) < KEEP).float(),
              [int(torch.randint(p, (), generator=generator)) for p in grid.patch_size]) for _ in range(n)]
    smooth = F.interpolate(torch.stack([c for c, _ in drawn])[:, None], size=[c * p for c, p in zip(cells, grid.patch_size)],
                           mode=UPSAMPLING[grid.ndim], align_corners=False)[:, 0]
    return torch.stack([m[tuple(slice(s, s + size) for s, size in zip(shift, grid.spatial_shape))]
                        for m, (_, shift) in zip(smooth, drawn)])


def _check(budget: int) -> None:
    if budget < 1:
        raise ValueError(f"rise needs a budget of at least 1 query (one mask); the budget is {budget}")


def _runs(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, stops: Sequence[int], seed: int,
          batch: int) -> Iterator[tuple[int, AttributionMap]]:
    """One run of ``max(stops)`` masks, ``batch`` at a time; after the first ``b`` masks for each
    ``b`` in ``stops``, yields ``b`` and the map of those ``b`` (``queries`` = ``b``)."""
    if tuple(x.shape) != grid.input_shape:
        raise ValueError(f"x must have shape {grid.input_shape}, got {tuple(x.shape)}")
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)  # a private generator: the global state is never touched
    reference = reference_input(x)
    total = torch.zeros(grid.spatial_shape, dtype=torch.float64)
    done = 0
    for stop in sorted(set(stops)):
        while done < stop:
            masks = random_masks(grid, min(batch, stop - done), generator)
            probs = black_box.probs(reference + (x - reference) * masks[:, None])[:, label]
            total += torch.einsum("n,n...->...", torch.from_numpy(probs), masks.double())
            done += len(masks)
        yield stop, AttributionMap("rise", (total / (stop * KEEP)).float(), False, stop, time.perf_counter() - started)


def rise(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, budget: int, seed: int,
         batch: int = BATCH) -> AttributionMap:
    """RISE with ``budget`` masks: exactly ``budget`` queries, sent ``batch`` at a time."""
    _check(budget)
    return next(_runs(black_box, x, label, grid, [budget], seed, batch))[1]


def rise_at_budgets(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, budgets: Sequence[int],
                    seed: int) -> dict[int, AttributionMap]:
    """RISE's map after the first ``b`` masks of one run, for every ``b`` in ``budgets``: ``max(budgets)``
    queries in all; each map's ``queries`` is its ``b`` (and equals :func:`rise` at ``b``, same seed)."""
    if not budgets:
        raise ValueError("rise_at_budgets needs at least one budget")
    for b in budgets:
        _check(b)
    maps = dict(_runs(black_box, x, label, grid, budgets, seed, BATCH))
    return {b: maps[b] for b in budgets}
