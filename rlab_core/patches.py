"""The patch grid: fixed-size blocks along the non-channel axes of any input.

An input is channels first: ECG ``(leads, time)``, image ``(C, H, W)``, video ``(C, T, H, W)``.
A :class:`PatchGrid` cuts its non-channel axes into non-overlapping blocks (windows, tiles,
cubes) and numbers them in C order, so that everything above the grid (filters, agent, masks,
metrics) speaks only of patch indices. One N-dimensional code path serves 1D, 2D and 3D, as
Captum's ``Occlusion`` does.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import torch
import torch.nn.functional as F


class PatchGrid:
    """Non-overlapping patches over the non-channel axes of inputs of one shape.

    Args:
        input_shape: ``(C, *spatial)``, the shape of one input, channels first, with at least
            one non-channel axis.
        patch_size: one positive entry per non-channel axis. An entry larger than its axis is
            clipped to the axis (one patch spans it). Where an axis is not a multiple of its
            patch size, the last patch along it is smaller (ragged edge).

    Patches are numbered in C order over :attr:`grid_shape` (the last axis varies fastest).
    """

    def __init__(self, input_shape: Sequence[int], patch_size: Sequence[int]) -> None:
        input_shape, patch_size = tuple(input_shape), tuple(patch_size)
        if len(input_shape) < 2:
            raise ValueError(f"input_shape must be (C, *spatial) with at least one non-channel axis, "
                             f"got {input_shape}")
        if any(int(s) <= 0 for s in input_shape):
            raise ValueError(f"input_shape must have positive sizes, got {input_shape}")
        if len(patch_size) != len(input_shape) - 1:
            raise ValueError(f"patch_size needs one entry per non-channel axis of {input_shape} "
                             f"({len(input_shape) - 1}), got {patch_size}")
        if any(int(p) <= 0 for p in patch_size):
            raise ValueError(f"patch_size must have positive sizes, got {patch_size}")
        self.input_shape: tuple[int, ...] = tuple(int(s) for s in input_shape)
        self.patch_size: tuple[int, ...] = tuple(min(int(p), s) for p, s in zip(patch_size, self.spatial_shape))
        self.grid_shape: tuple[int, ...] = tuple(math.ceil(s / p) for s, p in zip(self.spatial_shape, self.patch_size))
        self.n_patches: int = math.prod(self.grid_shape)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The non-channel axes of the input, ``input_shape[1:]``."""
        return self.input_shape[1:]

    @property
    def ndim(self) -> int:
        """The number of non-channel axes (1 for ECG, 2 for images, 3 for video)."""
        return len(self.spatial_shape)

    def __repr__(self) -> str:
        return f"PatchGrid(input_shape={self.input_shape}, patch_size={self.patch_size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PatchGrid):
            return NotImplemented
        return (self.input_shape, self.patch_size) == (other.input_shape, other.patch_size)

    def __hash__(self) -> int:
        return hash((self.input_shape, self.patch_size))

    # -- indices -------------------------------------------------------------------------------

    def index(self, coords: Sequence[int]) -> int:
        """The patch index of grid coordinates ``coords`` (one per non-channel axis), C order."""
        coords = tuple(operator.index(c) for c in coords)
        if len(coords) != self.ndim:
            raise ValueError(f"coords need {self.ndim} entries for grid {self.grid_shape}, got {coords}")
        if any(not 0 <= c < g for c, g in zip(coords, self.grid_shape)):
            raise IndexError(f"coords {coords} outside grid {self.grid_shape}")
        index = 0
        for c, g in zip(coords, self.grid_shape):
            index = index * g + c
        return index

    def coords(self, index: int) -> tuple[int, ...]:
        """The grid coordinates of patch ``index``, the inverse of :meth:`index`."""
        index = self._check_index(index)
        coords = []
        for g in reversed(self.grid_shape):
            index, c = divmod(index, g)
            coords.append(c)
        return tuple(reversed(coords))

    def slices(self, index: int) -> tuple[slice, ...]:
        """Slices selecting patch ``index`` from one input: ``x[grid.slices(i)]`` has shape
        ``(C, *patch)``; the first slice keeps every channel. Edge patches may be smaller."""
        bounds = (slice(c * p, min((c + 1) * p, s))
                  for c, p, s in zip(self.coords(index), self.patch_size, self.spatial_shape))
        return (slice(None), *bounds)

    def _check_index(self, index: int) -> int:
        index = operator.index(index)
        if not 0 <= index < self.n_patches:
            raise IndexError(f"patch index {index} outside [0, {self.n_patches})")
        return index

    # -- element <-> patch ---------------------------------------------------------------------

    @property
    def patch_sizes(self) -> torch.Tensor:
        """Number of elements (per channel) in each patch, ``long`` tensor ``(n_patches,)``;
        smaller at ragged edges."""
        sizes = torch.ones((), dtype=torch.long)
        for d in range(self.ndim):
            lengths = self._axis_lengths(d)
            sizes = sizes[..., None] * lengths  # outer product, C order
        return sizes.reshape(-1)

    def element_mask(self, patch_mask: torch.Tensor) -> torch.Tensor:
        """Expand a patch-level mask to the elements it covers.

        Args:
            patch_mask: bool tensor ``(n_patches,)``.

        Returns:
            bool tensor of shape ``input_shape[1:]`` (no channel axis).
        """
        return self.expand(torch.as_tensor(patch_mask).bool())

    def expand(self, patch_values: torch.Tensor) -> torch.Tensor:
        """Give every element the value of its patch: ``(n_patches,)`` -> ``input_shape[1:]``, same dtype."""
        patch_values = torch.as_tensor(patch_values)
        if tuple(patch_values.shape) != (self.n_patches,):
            raise ValueError(f"patch values must have shape ({self.n_patches},), got {tuple(patch_values.shape)}")
        values = patch_values.reshape(self.grid_shape)
        for d, (p, s) in enumerate(zip(self.patch_size, self.spatial_shape)):
            values = values.repeat_interleave(p, dim=d).narrow(d, 0, s)  # ragged edge: crop the overhang
        return values

    def patch_fraction(self, element_mask: torch.Tensor) -> torch.Tensor:
        """The fraction of each patch's elements that are set (nonzero) in ``element_mask``.

        Args:
            element_mask: tensor of shape ``input_shape[1:]``, bool or numeric (nonzero = set).

        Returns:
            float tensor ``(n_patches,)`` in ``[0, 1]``.
        """
        element_mask = torch.as_tensor(element_mask)
        if tuple(element_mask.shape) != self.spatial_shape:
            raise ValueError(f"element_mask must have shape {self.spatial_shape}, got {tuple(element_mask.shape)}")
        counts = self._block_sums((element_mask != 0).float())
        return counts.reshape(-1) / self.patch_sizes

    def patch_means(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of each patch per channel: a cheap downsampled view of ``x``.

        Args:
            x: one input of shape ``input_shape``.

        Returns:
            float tensor ``(C, *grid_shape)``.
        """
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"x must have shape {self.input_shape}, got {tuple(x.shape)}")
        sizes = self.patch_sizes.reshape(self.grid_shape)
        return self._block_sums(x if x.is_floating_point() else x.float()) / sizes

    def _axis_lengths(self, d: int) -> torch.Tensor:
        """Length of each patch along non-channel axis ``d``, ``(grid_shape[d],)``."""
        p, s = self.patch_size[d], self.spatial_shape[d]
        starts = torch.arange(self.grid_shape[d]) * p
        return (s - starts).clamp(max=p)

    def _block_sums(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` of shape ``(*lead, *spatial)`` over each patch -> ``(*lead, *grid_shape)``."""
        n_lead = t.dim() - self.ndim
        # Zero-pad each ragged axis up to a whole patch, then view every axis as (grid, patch).
        padding = []
        for g, p, s in zip(reversed(self.grid_shape), reversed(self.patch_size), reversed(self.spatial_shape)):
            padding += [0, g * p - s]
        t = F.pad(t, padding)
        blocks = t.reshape(*t.shape[:n_lead], *(n for g, p in zip(self.grid_shape, self.patch_size) for n in (g, p)))
        return blocks.sum(dim=tuple(n_lead + 2 * d + 1 for d in range(self.ndim)))
