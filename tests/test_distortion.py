import pytest
import torch

from rlab_core.attacks import Distortion, default_context
from rlab_core.filters import FilterContext, resolve_filters
from rlab_core.patches import PatchGrid

SETTINGS = [((1, 140), (5,)), ((3, 12, 10), (4, 4)), ((1, 4, 8, 8), (2, 4, 4))]


@pytest.fixture(params=SETTINGS, ids=["ecg", "image", "video"])
def setting(request):
    shape, patch = request.param
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    return x, PatchGrid(shape, patch)


def build(x, grid, seed=7):
    return Distortion(x, grid, resolve_filters("mix"), seed=seed)


def test_add_remove_state(setting):
    x, grid = setting
    d = build(x, grid)
    assert d.n_distorted == 0 and not d.mask.any() and torch.equal(d.adversarial(), x)
    d.add(1, 2)
    d.add(grid.n_patches - 1, 0)
    assert d.filter_of(1) == 2 and d.filter_of(0) == -1 and d.n_distorted == 2
    assert d.mask.tolist() == [i in (1, grid.n_patches - 1) for i in range(grid.n_patches)]
    assert d.assignment[1] == 2 and d.assignment[0] == -1
    adv = d.adversarial()
    changed = grid.patch_fraction((adv != x).any(dim=0)) > 0
    assert torch.equal(changed, d.mask)  # only the distorted patches changed
    d.remove(1)
    assert d.filter_of(1) == -1 and d.n_distorted == 1


def test_order_independence(setting):
    x, grid = setting
    steps = {0: 0, 2: 1, 3: 2, grid.n_patches - 1: 3, 1: 0}  # patch -> filter
    extra = next(p for p in range(grid.n_patches) if p not in steps)
    a = build(x, grid)
    for p, f in steps.items():
        a.add(p, f)
    b = build(x, grid)  # reversed order, with detours: another filter first, an extra patch
    b.add(extra, 0)
    b.add(2, 3)
    b.adversarial()     # fills the cache with the detour's patches
    for p, f in reversed(steps.items()):
        if b.filter_of(p) >= 0:
            b.remove(p)
        b.add(p, f)
    b.remove(extra)
    assert torch.equal(a.assignment, b.assignment)
    assert torch.equal(a.adversarial(), b.adversarial())


def test_replay_and_seed(setting):
    x, grid = setting
    a, b, c = build(x, grid), build(x, grid), build(x, grid, seed=8)
    for d in (a, b, c):
        d.add(0, 0)
    assert torch.equal(a.adversarial(), b.adversarial())
    assert not torch.equal(a.adversarial(), c.adversarial())  # noise depends on the seed


def test_remove_restores_clean_patch_exactly(setting):
    x, grid = setting
    d = build(x, grid)
    d.add(0, 0)
    d.add(1, 2)
    before = d.adversarial()
    d.add(2, 3)
    d.remove(2)
    assert torch.equal(d.adversarial(), before)
    d.remove(0)
    d.remove(1)
    assert torch.equal(d.adversarial(), x)


def test_readding_gives_the_same_content(setting):
    x, grid = setting
    d = build(x, grid)
    d.add(0, 0)
    first = d.adversarial()
    d.clear()
    assert d.n_distorted == 0
    d.add(0, 0)
    assert torch.equal(d.adversarial(), first)


def test_errors(setting):
    x, grid = setting
    d = build(x, grid)
    d.add(0, 1)
    with pytest.raises(ValueError, match="already"):
        d.add(0, 2)
    with pytest.raises(ValueError, match="clean"):
        d.remove(1)
    with pytest.raises(IndexError):
        d.add(grid.n_patches, 0)
    with pytest.raises(IndexError):
        d.add(1, 4)
    with pytest.raises(ValueError, match="shape"):
        Distortion(x[..., :-1], grid, resolve_filters("mix"))
    with pytest.raises(ValueError):
        Distortion(x, grid, resolve_filters("mix"), strengths=[0.5])
    with pytest.raises(ValueError, match="gaussian_blur"):
        Distortion(x, grid, resolve_filters("gaussian_blur"), strengths=[50.0])


def test_input_is_copied_and_adversarial_is_fresh(setting):
    x, grid = setting
    original = x.clone()
    d = build(x, grid)
    d.add(0, 3)
    adv = d.adversarial()
    adv.zero_()
    assert torch.equal(x, original) and not torch.equal(d.adversarial(), adv)


def test_default_context():
    ecg = torch.tensor([[0.1, 0.5, 0.9, 0.5, 0.5], [0.2, 0.2, 0.3, 0.8, 0.2]])
    ctx = default_context(ecg)
    assert ctx.modality == "ecg" and torch.allclose(ctx.baseline, torch.tensor([0.5, 0.2]))
    image = default_context(torch.rand(3, 4, 4))
    assert image.modality == "image" and torch.equal(image.baseline, torch.zeros(3))
    assert default_context(torch.rand(1, 2, 4, 4)).modality == "video"
    with pytest.raises(ValueError):
        default_context(torch.rand(5))


def test_dead_pixel_on_ecg_uses_the_median():
    x = torch.full((1, 20), 0.3)
    x[0, :5] = 0.9  # the median stays at 0.3
    d = Distortion(x, PatchGrid(x.shape, (5,)), resolve_filters("dead_pixel"), strengths=[1.0])
    d.add(0)
    assert torch.allclose(d.adversarial()[0, :5], torch.tensor(0.3))
    explicit = Distortion(x, PatchGrid(x.shape, (5,)), resolve_filters("dead_pixel"), strengths=[1.0],
                          ctx=FilterContext("ecg", torch.tensor([0.1])))
    explicit.add(0)
    assert torch.allclose(explicit.adversarial()[0, :5], torch.tensor(0.1))


def test_each_addition_comes_in_bounded_batches_in_order(setting, monkeypatch):
    from rlab_core.attacks import distortion

    x, grid = setting
    d = build(x, grid)
    d.add(0, 1)
    candidates = torch.cartesian_prod(torch.arange(4), torch.arange(1, grid.n_patches)).numpy()
    monkeypatch.setattr(distortion, "PROBE_BATCH_BYTES", 3 * x.numel() * x.element_size())
    batches = list(d.each_addition(candidates))
    assert [len(b) for b in batches[:-1]] == [3] * (len(batches) - 1) and 1 <= len(batches[-1]) <= 3
    for row, probed in zip(candidates, torch.cat(batches), strict=True):
        one = build(x, grid)
        one.add(0, 1)
        one.add(int(row[1]), int(row[0]))
        assert torch.equal(probed, one.adversarial())
