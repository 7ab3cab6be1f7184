"""What a filter is: a named distortion of one patch, with a strength and the checks around it."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


class FilterError(ValueError):
    """A filter that does not exist, a strength out of range, or a filter that misbehaved."""


@dataclass(frozen=True, eq=False)
class FilterContext:
    """What a filter may need to know about the whole clean input, beyond its own patch.

    Args:
        modality: ``"ecg"``, ``"image"`` or ``"video"``.
        baseline: per-channel resting value of the clean input, shape ``(C,)``: the median of
            each lead for ECG (a flat line sits there, not at zero), zeros for images and video.
        low, high: the value range every filtered patch is clamped to.
    """

    modality: str
    baseline: torch.Tensor
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.baseline.dim() != 1:
            raise FilterError(f"baseline must have shape (C,), got {tuple(self.baseline.shape)}")
        if not self.low < self.high:
            raise FilterError(f"low must be below high, got [{self.low}, {self.high}]")


@dataclass(frozen=True)
class Filter:
    """A distortion of one patch.

    Args:
        name: the name it is registered and chosen by.
        apply: ``apply(patch, strength, rng) -> patch``, or with a keyword parameter ``ctx`` to
            receive the :class:`FilterContext`. ``patch`` is ``x[grid.slices(i)]``: channels first
            with 1, 2 or 3 non-channel axes. It must return a tensor of the same shape.
        default_strength: the strength used when none is given.
        strength_range: ``(low, high)``, both inclusive.
        description: one line for menus and ``--help``.

    Call the filter, not ``apply``: the call checks the strength, copies the input so that
    ``apply`` can never change it, checks the output and clamps it to ``[ctx.low, ctx.high]``.
    """

    name: str
    apply: Callable[..., torch.Tensor]
    default_strength: float
    strength_range: tuple[float, float]
    description: str = ""
    needs_context: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise FilterError(f"a filter needs a non-empty name, got {self.name!r}")
        if not callable(self.apply):
            raise FilterError(f"filter {self.name!r}: apply must be callable")
        low, high = self.strength_range
        if not low <= self.default_strength <= high:
            raise FilterError(f"filter {self.name!r}: default strength {self.default_strength} "
                              f"outside its range [{low}, {high}]")
        # Read the signature once, here, rather than on every call.
        ctx = inspect.signature(self.apply).parameters.get("ctx")
        takes_ctx = ctx is not None and ctx.kind in (ctx.POSITIONAL_OR_KEYWORD, ctx.KEYWORD_ONLY)
        object.__setattr__(self, "needs_context", takes_ctx)

    def check_strength(self, strength: float) -> float:
        """``strength`` as a float, or :class:`FilterError` if it lies outside :attr:`strength_range`."""
        low, high = self.strength_range
        strength = float(strength)
        if not low <= strength <= high:  # also rejects NaN
            raise FilterError(f"filter {self.name!r}: strength {strength} outside [{low}, {high}]")
        return strength

    def __call__(self, patch: torch.Tensor, strength: float | None = None, rng: torch.Generator | None = None,
                 ctx: FilterContext | None = None) -> torch.Tensor:
        """The filtered copy of ``patch``.

        Args:
            patch: ``(C, *patch_shape)`` with 1 to 3 non-channel axes, values in ``[0, 1]``.
            strength: defaults to :attr:`default_strength`.
            rng: the only source of randomness; ``None`` means a generator seeded with 0, so that
                the result is deterministic either way.
            ctx: required by filters that declare ``ctx``; otherwise only its clamp range is used
                (``[0, 1]`` when ``None``).

        Returns:
            a new tensor of ``patch``'s shape and dtype, clamped to ``[ctx.low, ctx.high]``.
        """
        strength = self.check_strength(self.default_strength if strength is None else strength)
        if not isinstance(patch, torch.Tensor) or patch.dim() < 2 or not patch.is_floating_point():
            raise FilterError(f"filter {self.name!r}: patch must be a float tensor (C, *axes), got "
                              f"{type(patch).__name__} {tuple(getattr(patch, 'shape', ()))}")
        rng = torch.Generator().manual_seed(0) if rng is None else rng
        out = self._dispatch(patch.clone(), strength, rng, ctx)  # a clone: apply may work in place
        if not isinstance(out, torch.Tensor) or out.shape != patch.shape:
            raise FilterError(f"filter {self.name!r} returned shape {tuple(getattr(out, 'shape', ()))}, "
                              f"expected the patch's {tuple(patch.shape)}")
        if not torch.isfinite(out).all():
            raise FilterError(f"filter {self.name!r} returned NaN or infinite values")
        low, high = (0.0, 1.0) if ctx is None else (ctx.low, ctx.high)
        return out.to(patch.dtype).clamp(low, high)

    def _dispatch(self, patch: torch.Tensor, strength: float, rng: torch.Generator,
                  ctx: FilterContext | None) -> torch.Tensor:
        if not self.needs_context:
            return self.apply(patch, strength, rng)
        if ctx is None:
            raise FilterError(f"filter {self.name!r} needs a FilterContext: pass "
                              f"ctx=rlab_core.attacks.default_context(x, modality)")
        if tuple(ctx.baseline.shape) != (patch.shape[0],):
            raise FilterError(f"filter {self.name!r}: ctx.baseline has shape {tuple(ctx.baseline.shape)}, "
                              f"the patch has {patch.shape[0]} channels")
        return self.apply(patch, strength, rng, ctx=ctx)
