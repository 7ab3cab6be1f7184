"""Filters: one file per distortion of a patch, a registry, and bring-your-own-filter.

A filter maps one patch ``(C, *axes)`` (1, 2 or 3 non-channel axes) to a distorted patch of the
same shape: ``get_filter("dead_pixel")(patch, strength, rng, ctx)``. The built-ins register on
import; register your own with :func:`register_filter`.
"""
from rlab_core.filters.base import Filter, FilterContext, FilterError
from rlab_core.filters.registry import (
    FILTERS,
    MIX,
    filter_names,
    get_filter,
    load_filter_modules,
    load_filters_from_env,
    register_filter,
    resolve_filters,
)

# Imported for their side effect: each registers its filter (in MIX order).
from rlab_core.filters import gaussian_noise, gaussian_blur, dead_pixel, illuminate  # noqa: F401  isort: skip

__all__ = ["FILTERS", "MIX", "Filter", "FilterContext", "FilterError", "filter_names", "get_filter",
           "load_filter_modules", "load_filters_from_env", "register_filter", "resolve_filters"]
