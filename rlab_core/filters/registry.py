"""The filter registry: built-in filters, filters a user registers, and filters loaded from modules.

Bring your own filter::

    from rlab_core.filters import register_filter

    @register_filter("invert", default_strength=1.0, strength_range=(0.0, 1.0), description="x -> 1 - x")
    def invert(patch, strength, rng):
        return patch + strength * (1 - 2 * patch)

Put it in an importable module and name that module in ``RLAB_FILTER_MODULES`` (comma-separated
dotted names), or call :func:`load_filter_modules`, so that the app and the CLI find it.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable

from rlab_core.filters.base import Filter, FilterError

FILTERS: dict[str, Filter] = {}
ENV_VAR = "RLAB_FILTER_MODULES"
MIX = ("gaussian_noise", "gaussian_blur", "dead_pixel", "illuminate")


def register_filter(name: str, default_strength: float, strength_range: tuple[float, float], description: str = "",
                    replace: bool = False) -> Callable[[Callable], Callable]:
    """Decorator registering ``apply(patch, strength, rng[, ctx]) -> patch`` as filter ``name``.

    ``description`` defaults to the first line of the function's docstring. Registering a name
    twice raises, unless ``replace=True``. The decorated function is returned unchanged.
    """
    def decorator(apply: Callable) -> Callable:
        if name in FILTERS and not replace:
            raise FilterError(f"a filter named {name!r} is already registered; pass replace=True to replace it")
        doc = (apply.__doc__ or "").strip().splitlines()
        low, high = strength_range
        FILTERS[name] = Filter(name, apply, float(default_strength), (float(low), float(high)),
                               description or (doc[0] if doc else ""))
        return apply
    return decorator


def get_filter(name: str) -> Filter:
    """The registered filter ``name``."""
    if name not in FILTERS:
        raise FilterError(f"unknown filter {name!r}; known filters: {', '.join(filter_names())} (or 'mix')")
    return FILTERS[name]


def filter_names() -> list[str]:
    """The registered filter names, in registration order (built-ins first)."""
    return list(FILTERS)


def resolve_filters(spec: str) -> list[Filter]:
    """The filters named by ``spec``: a name, ``"mix"`` (the four built-ins) or a comma list of
    either, duplicates dropped in order. E.g. ``"mix"``, ``"dead_pixel"``, ``"gaussian_noise,invert"``."""
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        for name in (MIX if part == "mix" else (part,) if part else ()):
            if name not in names:
                names.append(name)
    if not names:
        raise FilterError(f"no filter named in {spec!r}; known filters: {', '.join(filter_names())} (or 'mix')")
    return [get_filter(name) for name in names]


def load_filter_modules(module_names: Iterable[str]) -> list[str]:
    """Import user modules by dotted name so that their ``@register_filter`` decorators run.

    Returns:
        the names of the filters these imports registered (none for a module imported before).
    """
    before = set(FILTERS)
    for module_name in (m.strip() for m in module_names):
        if not module_name:
            continue
        try:
            importlib.import_module(module_name)
        except ImportError as err:
            raise FilterError(f"cannot import filter module {module_name!r}: {err}") from err
    return [name for name in FILTERS if name not in before]


def load_filters_from_env() -> list[str]:
    """Load the modules named in ``RLAB_FILTER_MODULES`` (comma-separated); see :func:`load_filter_modules`."""
    return load_filter_modules(os.environ.get(ENV_VAR, "").split(","))
