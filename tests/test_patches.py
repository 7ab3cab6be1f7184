import pytest
import torch

from rlab_core.patches import PatchGrid
from rlab_core.victims import PROFILES, VictimError, get_profile

# (input_shape, patch_size, expected grid_shape): 1D, 2D and 3D, exact and ragged.
CASES = [
    ((1, 140), (5,), (28,)),
    ((2, 13), (5,), (3,)),
    ((1, 28, 28), (4, 4), (7, 7)),
    ((3, 10, 7), (4, 3), (3, 3)),
    ((1, 16, 64, 64), (2, 8, 8), (8, 8, 8)),
    ((2, 5, 9, 6), (2, 4, 4), (3, 3, 2)),
]


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def case(request):
    return request.param


def test_grid_shape_and_count(case):
    shape, patch, grid_shape = case
    grid = PatchGrid(shape, patch)
    assert grid.grid_shape == grid_shape
    assert grid.n_patches == torch.Size(grid_shape).numel()


def test_index_coords_round_trip(case):
    grid = PatchGrid(case[0], case[1])
    for i in range(grid.n_patches):
        assert grid.index(grid.coords(i)) == i
    # C order: the last axis varies fastest.
    if grid.ndim > 1:
        assert grid.coords(1)[-1] == 1 and grid.coords(1)[:-1] == (0,) * (grid.ndim - 1)


def test_slices_tile_the_input_exactly_once(case):
    shape, patch, _ = case
    grid = PatchGrid(shape, patch)
    cover = torch.zeros(shape, dtype=torch.long)
    for i in range(grid.n_patches):
        sl = grid.slices(i)
        assert sl[0] == slice(None)
        cover[sl] += 1
    assert bool((cover == 1).all())


def test_slices_match_coords_and_patch_sizes(case):
    grid = PatchGrid(case[0], case[1])
    x = torch.zeros(grid.input_shape)
    sizes = grid.patch_sizes
    for i in range(grid.n_patches):
        block = x[grid.slices(i)]
        assert block.shape[0] == grid.input_shape[0]
        assert block[0].numel() == sizes[i]
        starts = tuple(s.start for s in grid.slices(i)[1:])
        assert starts == tuple(c * p for c, p in zip(grid.coords(i), grid.patch_size))
    assert int(sizes.sum()) == torch.Size(grid.spatial_shape).numel()


def test_ragged_edge_patch_is_smaller():
    grid = PatchGrid((3, 10, 7), (4, 3))
    last = grid.slices(grid.n_patches - 1)
    assert last[1] == slice(8, 10) and last[2] == slice(6, 7)
    assert int(grid.patch_sizes[-1]) == 2


def test_element_mask_and_patch_fraction_round_trip(case):
    grid = PatchGrid(case[0], case[1])
    patch_mask = torch.arange(grid.n_patches) % 3 == 0
    elements = grid.element_mask(patch_mask)
    assert elements.dtype == torch.bool and tuple(elements.shape) == grid.spatial_shape
    for i in range(grid.n_patches):
        assert bool((elements[grid.slices(i)[1:]] == patch_mask[i]).all())
    assert torch.equal(grid.patch_fraction(elements), patch_mask.float())


def test_patch_fraction_partial():
    grid = PatchGrid((1, 4, 6), (2, 3))  # 2 x 2 patches of 6 elements
    elements = torch.zeros(4, 6, dtype=torch.bool)
    elements[0, 0] = True          # 1 of 6 in patch 0
    elements[2:, 3:] = True        # all of patch 3
    assert torch.allclose(grid.patch_fraction(elements), torch.tensor([1 / 6, 0, 0, 1]))


def test_patch_means_known_tensor():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    grid = PatchGrid(x.shape, (2, 3))  # grid 2 x 2, ragged on both axes
    means = grid.patch_means(x)
    assert means.shape == (2, 2, 2)
    for c in range(2):
        for i in range(grid.n_patches):
            assert torch.isclose(means[c][grid.coords(i)], x[grid.slices(i)][c].mean())
    assert means[0, 1, 1] == 13.5  # the ragged corner: x[0, 2, 3:5] = (13, 14)


def test_patch_means_1d_and_3d():
    x = torch.rand(3, 4, 6, 5)
    means = PatchGrid(x.shape, (4, 3, 5)).patch_means(x)
    assert torch.allclose(means, x.reshape(3, 1, 4, 2, 3, 1, 5).mean(dim=(2, 4, 6)))
    ecg = torch.rand(1, 140)
    assert torch.allclose(PatchGrid(ecg.shape, (5,)).patch_means(ecg), ecg.reshape(1, 28, 5).mean(-1))


def test_patch_larger_than_input_is_clipped():
    grid = PatchGrid((1, 4, 10), (8, 5))
    assert grid.patch_size == (4, 5) and grid.grid_shape == (1, 2)


@pytest.mark.parametrize("shape, patch, message", [
    ((28,), (4,), "non-channel axis"),
    ((1, 28, 28), (4,), "one entry per non-channel axis"),
    ((1, 28, 28), (4, 4, 4), "one entry per non-channel axis"),
    ((1, 28, 28), (0, 4), "positive"),
    ((1, 0, 28), (4, 4), "positive"),
])
def test_invalid_arguments(shape, patch, message):
    with pytest.raises(ValueError, match=message):
        PatchGrid(shape, patch)


def test_out_of_range_and_wrong_shapes():
    grid = PatchGrid((1, 28, 28), (4, 4))
    with pytest.raises(IndexError):
        grid.slices(49)
    with pytest.raises(IndexError):
        grid.coords(-1)
    with pytest.raises(IndexError):
        grid.index((7, 0))
    with pytest.raises(ValueError):
        grid.index((1,))
    with pytest.raises(ValueError, match=r"\(49,\)"):
        grid.element_mask(torch.zeros(48, dtype=torch.bool))
    with pytest.raises(ValueError):
        grid.patch_fraction(torch.zeros(1, 28, 28))
    with pytest.raises(ValueError):
        grid.patch_means(torch.zeros(28, 28))


def test_each_profile_gives_its_default_grid():
    assert get_profile("image-cnn").grid == PatchGrid((1, 28, 28), (4, 4))
    assert get_profile("imagenet-efficientnet-lite0").grid.n_patches == 49
    assert get_profile("ecg-cnn").grid.n_patches == 28
    assert get_profile("video-cnn").grid.grid_shape == (8, 8, 8)
    assert get_profile("video-imagenet-frames").grid.grid_shape == (1, 7, 7)
    assert set(PROFILES) >= {"ecg-cnn", "image-cnn", "video-cnn"}
    with pytest.raises(VictimError, match="image-cnn"):
        get_profile("no-such-victim")
