"""Which patches of an input carry which filter, and the adversarial input that results."""
from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from rlab_core.filters import Filter, FilterContext
from rlab_core.patches import PatchGrid

# The project's inputs tell their modality by their number of axes, channels included.
MODALITY_BY_NDIM = {2: "ecg", 3: "image", 4: "video"}
# A batch of probed inputs holds at most this many inputs and bytes: the greedy probe of one
# ImageNet-frame clip (196 clips, 1,568 frames) sent as one batch took over 20 GB.
PROBE_BATCH = 256
PROBE_BATCH_BYTES = 64 * 2**20


def default_context(x: torch.Tensor, modality: str | None = None) -> FilterContext:
    """The :class:`FilterContext` of a clean input ``x`` (channels first, values in ``[0, 1]``).

    The baseline is each lead's median for ECG (where a flat, "dead" signal sits) and zeros for
    images and video. ``modality`` defaults to the one ``x``'s number of axes implies:
    ``(leads, time)`` ECG, ``(C, H, W)`` image, ``(C, T, H, W)`` video.
    """
    if modality is None:
        if x.dim() not in MODALITY_BY_NDIM:
            raise ValueError(f"cannot tell the modality of an input of shape {tuple(x.shape)}; pass modality")
        modality = MODALITY_BY_NDIM[x.dim()]
    if modality == "ecg":
        baseline = x.detach().flatten(1).median(dim=1).values
    else:
        baseline = torch.zeros(x.shape[0], dtype=x.dtype)
    return FilterContext(modality, baseline.clone())


def patch_seed(seed: int, patch: int, filter_name: str) -> int:
    """The generator seed of ``patch`` under filter ``filter_name``: a stable hash (not Python's
    ``hash``, which may differ between runs), so that a patch's distorted content is the same
    whatever the order of the steps, the process, or the other filters on offer."""
    digest = hashlib.blake2b(f"{seed}/{patch}/{filter_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class Distortion:
    """The state of an attack on one input: which patches carry which filter.

    Args:
        x: the clean input, shape ``grid.input_shape``, values in ``[0, 1]``. It is copied.
        grid: the patch grid.
        filters: the filters on offer; a patch carries at most one of them, by index.
        strengths: one per filter; ``None`` means each filter's default strength.
        seed: with the patch and the filter, fixes the distorted content of that patch
            (see :func:`patch_seed`): removing and re-adding a patch, or replaying a trajectory
            in any order, rebuilds bitwise the same adversarial input.
        ctx: the filters' context; ``None`` means :func:`default_context` of ``x``.
    """

    def __init__(self, x: torch.Tensor, grid: PatchGrid, filters: Sequence[Filter],
                 strengths: Sequence[float] | None = None, seed: int = 0, ctx: FilterContext | None = None) -> None:
        if tuple(x.shape) != grid.input_shape:
            raise ValueError(f"x has shape {tuple(x.shape)}, the grid expects {grid.input_shape}")
        if not filters:
            raise ValueError("a distortion needs at least one filter")
        strengths = [f.default_strength for f in filters] if strengths is None else list(strengths)
        if len(strengths) != len(filters):
            raise ValueError(f"{len(strengths)} strengths for {len(filters)} filters")
        self.x = x.detach().clone()
        self.grid = grid
        self.filters = list(filters)
        self.strengths = [f.check_strength(s) for f, s in zip(self.filters, strengths)]
        self.seed = int(seed)
        self.ctx = default_context(self.x) if ctx is None else ctx
        self._assignment = [-1] * grid.n_patches
        self._cache: dict[tuple[int, int], torch.Tensor] = {}

    def add(self, patch: int, filter_index: int = 0) -> None:
        """Distort clean ``patch`` with filter ``filters[filter_index]``."""
        patch, filter_index = self._check_patch(patch), operator.index(filter_index)
        if not 0 <= filter_index < len(self.filters):
            raise IndexError(f"filter index {filter_index} outside [0, {len(self.filters)})")
        if self._assignment[patch] >= 0:
            raise ValueError(f"patch {patch} already carries {self.filters[self._assignment[patch]].name}; "
                             f"remove it first")
        self._assignment[patch] = filter_index

    def remove(self, patch: int) -> None:
        """Restore distorted ``patch`` to its clean content."""
        patch = self._check_patch(patch)
        if self._assignment[patch] < 0:
            raise ValueError(f"patch {patch} is clean, there is nothing to remove")
        self._assignment[patch] = -1

    def clear(self) -> None:
        """Remove every distortion; the cache of filtered patches is kept for the next episode."""
        self._assignment = [-1] * self.grid.n_patches

    def filter_of(self, patch: int) -> int:
        """The index of the filter on ``patch``, or -1 if it is clean."""
        return self._assignment[self._check_patch(patch)]

    @property
    def assignment(self) -> torch.Tensor:
        """The filter index of every patch, -1 where clean: ``long`` tensor ``(n_patches,)``."""
        return torch.tensor(self._assignment, dtype=torch.long)

    @property
    def mask(self) -> torch.Tensor:
        """Which patches are distorted: bool tensor ``(n_patches,)``."""
        return self.assignment >= 0

    @property
    def n_distorted(self) -> int:
        return sum(f >= 0 for f in self._assignment)

    def adversarial(self) -> torch.Tensor:
        """The clean input with each distorted patch replaced by its filtered version, a new
        tensor of shape ``grid.input_shape``."""
        out = self.x.clone()
        for patch, filter_index in enumerate(self._assignment):
            if filter_index >= 0:
                out[self.grid.slices(patch)] = self.filtered(patch, filter_index)
        return out

    def each_addition(self, candidates: np.ndarray) -> Iterator[torch.Tensor]:
        """The current adversarial input once per ``(filter_index, patch)`` row of ``candidates``,
        each with that one addition made, in order, as batches ``(b, *input_shape)`` of at most
        :data:`PROBE_BATCH` inputs and :data:`PROBE_BATCH_BYTES`. Greedy search and the agent's
        teacher measure every single addition this way."""
        base = self.adversarial()
        per_batch = max(1, min(PROBE_BATCH, PROBE_BATCH_BYTES // (base.numel() * base.element_size())))
        for start in range(0, len(candidates), per_batch):
            rows = candidates[start:start + per_batch]
            batch = base[None].repeat(len(rows), *[1] * base.dim())
            for row, (filter_index, patch) in enumerate(rows):
                batch[row][self.grid.slices(int(patch))] = self.filtered(int(patch), int(filter_index))
            yield batch

    def filtered(self, patch: int, filter_index: int) -> torch.Tensor:
        """``patch`` under filter ``filter_index``, computed once from the clean input."""
        key = (patch, filter_index)
        if key not in self._cache:
            flt = self.filters[filter_index]
            rng = torch.Generator().manual_seed(patch_seed(self.seed, patch, flt.name))
            self._cache[key] = flt(self.x[self.grid.slices(patch)], self.strengths[filter_index], rng, self.ctx)
        return self._cache[key]

    def _check_patch(self, patch: int) -> int:
        """``patch`` as a Python int (agents hand out numpy integers), or IndexError."""
        patch = operator.index(patch)
        if not 0 <= patch < self.grid.n_patches:
            raise IndexError(f"patch {patch} outside [0, {self.grid.n_patches})")
        return patch
