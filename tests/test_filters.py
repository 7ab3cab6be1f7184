import sys

import pytest
import torch
import torch.nn.functional as F

from rlab_core.filters import (
    FILTERS,
    MIX,
    Filter,
    FilterContext,
    FilterError,
    filter_names,
    get_filter,
    load_filter_modules,
    load_filters_from_env,
    register_filter,
    resolve_filters,
)

RANDOM_FILTERS = {"gaussian_noise", "dead_pixel"}
PATCH_SHAPES = [(5,), (6, 5), (3, 6, 5)]  # non-channel axes: 1D, 2D, 3D


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def image_ctx(channels: int) -> FilterContext:
    return FilterContext("image", torch.zeros(channels))


@pytest.fixture
def restore_registry():
    """Forget the filters a test registers, so that tests stay independent."""
    before = dict(FILTERS)
    yield
    FILTERS.clear()
    FILTERS.update(before)


def test_builtins_registered_in_mix_order():
    assert filter_names()[:4] == list(MIX)
    for name in MIX:
        flt = get_filter(name)
        low, high = flt.strength_range
        assert low <= flt.default_strength <= high and flt.description


@pytest.mark.parametrize("name", MIX)
@pytest.mark.parametrize("axes", PATCH_SHAPES, ids=lambda a: f"{len(a)}d")
@pytest.mark.parametrize("channels", [1, 3])
def test_builtin_filter_contract(name, axes, channels):
    flt = get_filter(name)
    patch = torch.rand(channels, *axes) * 0.8 + 0.1
    original = patch.clone()
    out = flt(patch, None, rng(1), image_ctx(channels))
    assert out.shape == patch.shape and out.dtype == patch.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(patch, original)  # input untouched
    assert not torch.equal(out, patch)   # the default strength does something
    assert torch.equal(out, flt(patch, None, rng(1), image_ctx(channels)))
    if name in RANDOM_FILTERS:
        assert not torch.equal(out, flt(patch, None, rng(2), image_ctx(channels)))


def test_dead_pixel_goes_to_baseline_on_ecg_and_zero_on_images():
    flt = get_filter("dead_pixel")
    ecg = torch.full((2, 40), 0.9)
    baseline = torch.tensor([0.4, 0.6])
    out = flt(ecg, 0.5, rng(), FilterContext("ecg", baseline))
    dead = out[0] != 0.9
    assert dead.any() and (~dead).any()
    assert torch.equal(out[0][dead], torch.full((int(dead.sum()),), 0.4))
    assert torch.equal(out[1] != 0.9, dead)  # same samples dead in every lead
    assert torch.allclose(out[1][dead], torch.tensor(0.6))

    image = torch.full((3, 8, 8), 0.7)
    out = flt(image, 0.5, rng(), image_ctx(3))
    dead = out == 0
    assert dead.any() and bool((out[~dead] == 0.7).all())
    assert torch.equal(dead[0], dead[1]) and torch.equal(dead[0], dead[2])  # dead in all colours


def test_dead_pixel_needs_a_matching_context():
    flt = get_filter("dead_pixel")
    with pytest.raises(FilterError, match="FilterContext"):
        flt(torch.rand(1, 8, 8), 0.5, rng())
    with pytest.raises(FilterError, match="channels"):
        flt(torch.rand(1, 8, 8), 0.5, rng(), image_ctx(3))


def test_dead_pixel_strength_is_the_dead_fraction():
    out = get_filter("dead_pixel")(torch.ones(1, 100, 100), 0.3, rng(), image_ctx(1))
    assert abs(float((out == 0).float().mean()) - 0.3) < 0.02


def test_blur_reduces_variance_of_a_noisy_patch():
    for axes in PATCH_SHAPES:
        patch = torch.rand(2, *(a * 3 for a in axes), generator=rng(3))
        out = get_filter("gaussian_blur")(patch, 1.0, rng())
        assert out.var() < 0.5 * patch.var()
        assert torch.allclose(out.mean(), patch.mean(), atol=0.05)


def test_blur_matches_a_reflect_padded_convolution():
    patch = torch.rand(2, 9, 7, dtype=torch.float64, generator=rng(4))
    sigma = 0.8
    expected = patch
    for axis in (1, 2):  # separable: one 1D pass per axis, radius ceil(3 * 0.8) = 3
        kernel = torch.exp(-torch.arange(-3.0, 4.0, dtype=torch.float64) ** 2 / (2 * sigma**2))
        moved = expected.movedim(axis, -1)
        rows = F.pad(moved.reshape(-1, 1, moved.shape[-1]), (3, 3), mode="reflect")
        expected = F.conv1d(rows, (kernel / kernel.sum()).view(1, 1, -1)).reshape(moved.shape).movedim(-1, axis)
    out = get_filter("gaussian_blur")(patch, sigma, rng())
    assert out.dtype == torch.float64 and torch.allclose(out, expected, atol=1e-12)


def test_blur_keeps_a_flat_patch_flat_and_tiny_axes_work():
    flat = torch.full((1, 4, 4), 0.3)
    assert torch.allclose(get_filter("gaussian_blur")(flat, 5.0, rng()), flat)
    single = torch.rand(3, 1, 1)
    assert torch.equal(get_filter("gaussian_blur")(single, 2.0, rng()), single)


def test_noise_changes_about_half_the_elements():
    patch = torch.full((1, 100, 100), 0.5)
    out = get_filter("gaussian_noise")(patch, 0.1, rng())
    assert abs(float((out != 0.5).float().mean()) - 0.5) < 0.03


def test_illuminate_brightens():
    patch = torch.rand(3, 5, 5)
    out = get_filter("illuminate")(patch, 0.5, rng())
    assert bool((out >= patch).all())
    assert torch.allclose(out, patch + 0.5 * (1 - patch))
    assert torch.allclose(get_filter("illuminate")(patch, 1.0, rng()), torch.ones_like(patch))


@pytest.mark.parametrize("name, strength", [("gaussian_noise", -0.1), ("gaussian_noise", 5.1),
                                            ("gaussian_blur", 0.0), ("dead_pixel", 1.5),
                                            ("illuminate", float("nan"))])
def test_strength_out_of_range_raises(name, strength):
    with pytest.raises(ValueError, match=name):
        get_filter(name)(torch.rand(1, 4, 4), strength, rng(), image_ctx(1))


def test_unknown_filter_lists_known_names():
    with pytest.raises(ValueError, match="gaussian_blur"):
        get_filter("sharpen")


def test_resolve_filters():
    assert [f.name for f in resolve_filters("mix")] == list(MIX)
    assert [f.name for f in resolve_filters("dead_pixel")] == ["dead_pixel"]
    assert [f.name for f in resolve_filters(" illuminate, mix ")] == ["illuminate", "gaussian_noise",
                                                                     "gaussian_blur", "dead_pixel"]
    with pytest.raises(ValueError):
        resolve_filters(" , ")
    with pytest.raises(ValueError, match="known filters"):
        resolve_filters("mix,nope")


def test_user_filter_with_decorator(restore_registry):
    @register_filter("invert_test", default_strength=1.0, strength_range=(0.0, 1.0))
    def invert(patch, strength, rng):
        """Invert the patch."""
        patch.mul_(-1).add_(1)  # in place on purpose: the caller's tensor must survive
        return patch

    flt = get_filter("invert_test")
    assert isinstance(flt, Filter) and flt.description == "Invert the patch." and not flt.needs_context
    assert [f.name for f in resolve_filters("invert_test,dead_pixel")] == ["invert_test", "dead_pixel"]
    patch = torch.rand(1, 3, 3)
    original = patch.clone()
    assert torch.allclose(flt(patch), 1 - original)
    assert torch.equal(patch, original)
    with pytest.raises(ValueError, match="already registered"):
        register_filter("invert_test", 1.0, (0.0, 1.0))(invert)
    register_filter("invert_test", 0.5, (0.0, 1.0), replace=True)(invert)
    assert get_filter("invert_test").default_strength == 0.5


def test_user_filter_with_context_receives_it(restore_registry):
    seen = []

    @register_filter("ctx_test", default_strength=0.5, strength_range=(0.0, 1.0))
    def to_baseline(patch, strength, rng, ctx):
        seen.append(ctx.modality)
        return torch.zeros_like(patch) + ctx.baseline.view(-1, 1)

    out = get_filter("ctx_test")(torch.rand(2, 5), None, rng(), FilterContext("ecg", torch.tensor([0.2, 0.3])))
    assert seen == ["ecg"] and torch.allclose(out[:, 0], torch.tensor([0.2, 0.3]))


@pytest.mark.parametrize("bad_output, message", [
    (lambda p: p[..., :-1], "shape"),
    (lambda p: p * float("nan"), "NaN"),
])
def test_misbehaving_user_filter_raises_with_its_name(restore_registry, bad_output, message):
    register_filter("bad_test", 1.0, (0.0, 1.0))(lambda patch, strength, rng: bad_output(patch))
    with pytest.raises(ValueError, match=f"bad_test.*{message}|{message}.*bad_test"):
        get_filter("bad_test")(torch.rand(1, 4, 4))


def test_output_is_clamped_to_context_range(restore_registry):
    register_filter("overshoot_test", 1.0, (0.0, 1.0))(lambda patch, strength, rng: patch + 5)
    out = get_filter("overshoot_test")(torch.rand(1, 4), ctx=FilterContext("image", torch.zeros(1), 0.0, 0.8))
    assert torch.allclose(out, torch.full((1, 4), 0.8))


MODULE_SOURCE = '''
from rlab_core.filters import register_filter

@register_filter("{name}", default_strength=0.5, strength_range=(0.0, 1.0), description="darken")
def darken(patch, strength, rng):
    return patch * (1 - strength)
'''


def _write_module(tmp_path, monkeypatch, module: str, filter_name: str) -> None:
    (tmp_path / f"{module}.py").write_text(MODULE_SOURCE.format(name=filter_name))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)  # and forgotten again after the test


def test_load_filter_modules(tmp_path, monkeypatch, restore_registry):
    _write_module(tmp_path, monkeypatch, "rlab_test_user_filters", "darken_test")
    assert load_filter_modules(["rlab_test_user_filters"]) == ["darken_test"]
    assert get_filter("darken_test").description == "darken"
    assert [f.name for f in resolve_filters("darken_test")] == ["darken_test"]
    assert torch.allclose(get_filter("darken_test")(torch.ones(1, 2)), torch.full((1, 2), 0.5))
    assert load_filter_modules(["rlab_test_user_filters"]) == []  # a second import registers nothing
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        load_filter_modules(["no_such_module_xyz"])


def test_load_filters_from_env(tmp_path, monkeypatch, restore_registry):
    _write_module(tmp_path, monkeypatch, "rlab_test_env_filters", "env_darken_test")
    monkeypatch.setenv("RLAB_FILTER_MODULES", " rlab_test_env_filters, ")
    assert load_filters_from_env() == ["env_darken_test"]
    assert "env_darken_test" in filter_names()
    monkeypatch.delenv("RLAB_FILTER_MODULES")
    assert load_filters_from_env() == []
