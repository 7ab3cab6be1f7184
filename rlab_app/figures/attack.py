"""Figures of an attack (the Attack page, and the Robustness page's samples): the input at one step
with its patch grid, the true class's probability over the steps, the clean and adversarial input
side by side."""
from __future__ import annotations

from collections.abc import Mapping
from typing import overload

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import torch

from rlab_app.figures import HEIGHT, LINE
from rlab_core.attacks.replay import put_back
from rlab_core.attacks.result import StepRecord
from rlab_core.patches import PatchGrid

# One colour per built-in filter (a filter a user registers takes the next of OTHER_FILTER_COLORS);
# the patch the last step changed is outlined in ADDED or REMOVED.
FILTER_COLORS = {"gaussian_noise": "#9467bd", "gaussian_blur": "#17becf", "dead_pixel": "#e377c2",
                 "illuminate": "#ff7f0e"}
OTHER_FILTER_COLORS = ("#bcbd22", "#8c564b", "#7f7f7f", "#1f77b4")
ADDED = "#2ca02c"
REMOVED = "#d62728"
GRID_LINE = "rgba(150, 150, 150, 0.55)"
CLEAN_LINE = "rgba(150, 150, 150, 0.5)"
MONTAGE_COLUMNS = 4
STEP_MARKERS = {  # (label, symbol, colour) of the steps on the probability chart
    "add": ("add", "triangle-up", ADDED),
    "remove": ("remove", "triangle-down", REMOVED),
    "prune": ("prune (kept)", "x", "#7f7f7f"),
    "put back": ("prune (put back)", "circle-open", "#7f7f7f"),
}


def filter_color(name: str) -> str:
    if name in FILTER_COLORS:
        return FILTER_COLORS[name]
    return OTHER_FILTER_COLORS[sum(map(ord, name)) % len(OTHER_FILTER_COLORS)]


@overload
def _as_dict(record: None) -> None: ...
@overload
def _as_dict(record: StepRecord | Mapping) -> dict: ...
def _as_dict(record) -> dict | None:
    return record if record is None or isinstance(record, dict) else record.to_dict()


def attack_state_figure(x: torch.Tensor, x_now: torch.Tensor, grid: PatchGrid, patch_filters: dict[int, str],
                        last=None, scale: tuple[float, float] | None = None) -> go.Figure:
    """An attack's input at one step: ``x_now`` with the patch grid drawn, each distorted patch
    (``patch_filters``: patch -> filter name) framed in its filter's colour, and the patch the
    ``last`` step (a :class:`StepRecord` or its dict) changed outlined: green if added, red if
    removed (dashed if a prune put it back). An ECG also shows the clean beat ``x`` under it; a
    video shows the first frame of each temporal block of patches."""
    last = _as_dict(last)
    if grid.ndim == 1:
        return _ecg_state(x, x_now, grid, patch_filters, last, scale)
    frames, tiles = _montage(x_now, grid)
    figure = _picture(frames, binary=grid.ndim == 3)
    lines_x: list[float | None] = []
    lines_y: list[float | None] = []
    height, width = tiles["tile"]
    for row, col in tiles["origins"]:  # the grid of each tile
        for c in range(0, width + 1, grid.patch_size[-1]):
            lines_x += [col + min(c, width) - 0.5] * 2 + [None]
            lines_y += [row - 0.5, row + height - 0.5, None]
        for r in range(0, height + 1, grid.patch_size[-2]):
            lines_x += [col - 0.5, col + width - 0.5, None]
            lines_y += [row + min(r, height) - 0.5] * 2 + [None]
    figure.add_trace(go.Scatter(x=lines_x, y=lines_y, mode="lines", line={"color": GRID_LINE, "width": 1},
                                hoverinfo="skip", showlegend=False))
    for name, patches in _by_filter(patch_filters).items():
        xs, ys = _rectangles([_tile_rect(grid, tiles, p) for p in patches])
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", fill="toself", name=name, hoverinfo="skip",
                                    line={"color": filter_color(name), "width": 2},
                                    fillcolor=_transparent(filter_color(name), 0.2)))
    if last is not None:
        xs, ys = _rectangles([_tile_rect(grid, tiles, last["patch"])])
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=_last_label(last), hoverinfo="skip",
                                    line=_last_line(last, width=4)))
    figure.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
                         margin={"l": 10, "r": 10, "t": 10, "b": 40})
    return figure


def _montage(x: torch.Tensor, grid: PatchGrid) -> tuple[np.ndarray, dict]:
    """``(C, H, W)`` as it is, or ``(C, T, H, W)`` as the first frame of each temporal block of
    patches laid out in rows of :data:`MONTAGE_COLUMNS`; ``(H', W'[, 3])`` with the tiles' origins."""
    if grid.ndim == 2:
        frames = x[None]
    else:
        frames = x[:, ::grid.patch_size[0]].permute(1, 0, 2, 3)  # (blocks, C, H, W)
    count, channels, height, width = frames.shape
    columns = min(count, MONTAGE_COLUMNS)
    rows = -(-count // columns)
    canvas = torch.ones(channels, rows * height, columns * width)  # white where a last row is short
    origins = []
    for k in range(count):
        row, col = divmod(k, columns)
        canvas[:, row * height:(row + 1) * height, col * width:(col + 1) * width] = frames[k]
        origins.append((row * height, col * width))
    return canvas.permute(1, 2, 0).numpy(), {"tile": (height, width), "origins": origins}


def _tile_rect(grid: PatchGrid, tiles: dict, patch: int) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` of ``patch`` in montage pixels (edges between pixel centres)."""
    bounds = grid.slices(patch)
    tile = grid.coords(patch)[0] if grid.ndim == 3 else 0
    row, col = tiles["origins"][tile]
    rows, cols = bounds[-2], bounds[-1]
    return col + cols.start - 0.5, col + cols.stop - 0.5, row + rows.start - 0.5, row + rows.stop - 0.5


def _picture(image: np.ndarray, binary: bool = False) -> go.Figure:
    """An ``(H, W, C)`` picture in ``[0, 1]``: gray as a heatmap (or, ``binary``, as a PNG, much
    smaller to send for a large montage), RGB as an image."""
    if image.shape[-1] == 1:
        figure = px.imshow(image[..., 0], color_continuous_scale="gray", zmin=0, zmax=1, binary_string=binary)
        figure.update_coloraxes(showscale=False)
    else:
        figure = px.imshow((image * 255).round().astype(np.uint8))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(height=HEIGHT)
    return figure


def _ecg_state(x: torch.Tensor, x_now: torch.Tensor, grid: PatchGrid, patch_filters: dict[int, str],
               last: dict | None, scale: tuple[float, float] | None) -> go.Figure:
    low, high = scale or (0.0, 1.0)
    clean = low + x[0].numpy() * (high - low)
    now = low + x_now[0].numpy() * (high - low)
    bottom, top = float(min(clean.min(), now.min())), float(max(clean.max(), now.max()))
    pad = 0.05 * (top - bottom or 1.0)
    bottom, top = bottom - pad, top + pad
    edges = [grid.slices(p)[1].start for p in range(grid.n_patches)] + [grid.spatial_shape[0]]
    traces = [go.Scatter(x=[e - 0.5 for e in edges for _ in range(3)],
                         y=[v for _ in edges for v in (bottom, top, None)],
                         mode="lines", line={"color": GRID_LINE, "width": 1, "dash": "dot"}, hoverinfo="skip",
                         showlegend=False)]
    for name, patches in _by_filter(patch_filters).items():
        xs, ys = _rectangles([(*_window(grid, p), bottom, top) for p in patches])
        traces.append(go.Scatter(x=xs, y=ys, mode="none", fill="toself", name=name, hoverinfo="skip",
                                 fillcolor=_transparent(filter_color(name), 0.3)))
    if last is not None:
        xs, ys = _rectangles([(*_window(grid, last["patch"]), bottom, top)])
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name=_last_label(last), hoverinfo="skip",
                                 line=_last_line(last, width=3)))
    # The clean beat wide and pale under the distorted one: it shows only where they differ.
    traces += [go.Scatter(y=clean, mode="lines", line={"color": CLEAN_LINE, "width": 4}, name="clean"),
               go.Scatter(y=now, mode="lines", line={"color": LINE, "width": 1.5}, name="distorted")]
    figure = go.Figure(traces)
    figure.update_yaxes(range=[bottom, top], title="amplitude")
    figure.update_xaxes(title="sample")
    figure.update_layout(height=HEIGHT, legend={"orientation": "h", "y": -0.2, "yanchor": "top"},
                         margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _window(grid: PatchGrid, patch: int) -> tuple[float, float]:
    window = grid.slices(patch)[1]
    return window.start - 0.5, window.stop - 0.5


def _by_filter(patch_filters: dict[int, str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for patch, name in sorted(patch_filters.items()):
        groups.setdefault(name, []).append(patch)
    return groups


def _rectangles(rects: list[tuple[float, float, float, float]]) -> tuple[list, list]:
    """Closed ``(x0, x1, y0, y1)`` rectangles as one trace's points, separated by gaps."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for x0, x1, y0, y1 in rects:
        xs += [x0, x0, x1, x1, x0, None]
        ys += [y0, y1, y1, y0, y0, None]
    return xs, ys


def _last_label(last: dict) -> str:
    if last["action"] == "add":
        return f"just added: patch {last['patch']}"
    if put_back(last):
        return f"pruning tried: patch {last['patch']} (put back)"
    return f"just removed: patch {last['patch']}"


def _last_line(last: dict, width: int) -> dict:
    if last["action"] == "add":
        return {"color": ADDED, "width": width}
    return {"color": REMOVED, "width": width, "dash": "dash" if put_back(last) else "solid"}


def _transparent(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def probability_figure(trajectory: list, clean_prob: float | None, upto: int | None = None,
                       total_steps: int | None = None) -> go.Figure:
    """The victim's probability of the true class over an attack's steps (step 0: the clean
    input), each step marked by its action, up to step ``upto`` (default: all). The x axis spans
    ``total_steps`` (default: the trajectory), so that a growing or replayed chart keeps its scale."""
    records = [_as_dict(r) for r in trajectory]
    shown = records if upto is None else records[:upto]
    steps = [r["step"] for r in shown]
    probs = [r["true_prob"] for r in shown]
    if clean_prob is not None:
        steps, probs = [0, *steps], [clean_prob, *probs]
    traces = [go.Scatter(x=steps, y=probs, mode="lines", line_color=LINE, name="p(true class)", hoverinfo="skip")]
    groups: dict[str, list[dict]] = {}
    for r in shown:
        kind = "put back" if put_back(r) else r["action"]
        groups.setdefault(kind, []).append(r)
    for kind, (label, symbol, color) in STEP_MARKERS.items():
        if kind in groups:
            rows = groups[kind]
            traces.append(go.Scatter(
                x=[r["step"] for r in rows], y=[r["true_prob"] for r in rows], mode="markers", name=label,
                marker={"symbol": symbol, "color": color, "size": 8},
                text=[f"step {r['step']}: {r['action']} {r['filter']} on patch {r['patch']}<br>"
                      f"top-1 {r['top'][0][0]} ({r['top'][0][1]:.1%}), {r['queries']} queries" for r in rows],
                hovertemplate="%{text}<extra></extra>"))
    figure = go.Figure(traces)
    flip = next((r["step"] for r in shown if r["misclassified"] and r["action"] != "prune"), None)
    if flip is not None:
        figure.add_vline(x=flip, line={"color": REMOVED, "dash": "dot"}, annotation_text="fooled",
                         annotation_position="top left")
    if upto is not None:
        figure.add_vline(x=upto, line={"color": "#444", "width": 1})
    last = total_steps if total_steps is not None else len(records)
    figure.update_xaxes(title="step", range=[-0.5, max(last, 1) + 0.5])
    figure.update_yaxes(title="probability of the true class", range=[0, 1.02], tickformat=".0%")
    figure.update_layout(height=330, legend={"orientation": "h", "y": -0.25, "yanchor": "top"},
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def comparison_figure(x: torch.Tensor, x_adv: torch.Tensor, grid: PatchGrid | None = None,
                      patch_filters: dict[int, str] | None = None, scale: tuple[float, float] | None = None) -> go.Figure:
    """The clean and the adversarial input side by side with their difference (scaled to its
    maximum): an ECG as both traces overlaid with the distorted windows shaded (needs ``grid``),
    a video with a frame slider."""
    if x.dim() == 2:
        assert grid is not None  # an ECG's comparison needs its grid (see above)
        return _ecg_state(x, x_adv, grid, patch_filters or {}, None, scale)
    diff = (x_adv - x).abs().amax(dim=0, keepdim=True)  # (1, [T,] H, W): the largest change per pixel
    peak = float(diff.max())
    diff = (diff / peak if peak > 0 else diff).expand_as(x)
    panels = torch.stack([x, x_adv, diff])  # (3, C, [T,] H, W)
    panels = panels[:, :, None] if x.dim() == 3 else panels  # (3, C, T, H, W)
    array = panels.permute(2, 0, 3, 4, 1).numpy()  # (T, 3, H, W, C)
    animate = {"animation_frame": 0, "labels": {"animation_frame": "frame"}} if array.shape[0] > 1 else {}
    array = array if animate else array[0]
    if array.shape[-1] == 1:
        figure = px.imshow(array[..., 0], facet_col=1 if animate else 0, color_continuous_scale="gray",
                           zmin=0, zmax=1, binary_string=bool(animate), **animate)  # a clip: PNG frames
        figure.update_coloraxes(showscale=False)
    else:
        figure = px.imshow((array * 255).round().astype(np.uint8), facet_col=1 if animate else 0, **animate)
    names = ["original", "adversarial", f"difference (×{1 / peak:.1f})" if peak > 0 else "difference (none)"]
    figure.for_each_annotation(lambda note: note.update(text=names[int(note.text.split("=")[-1])]))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(height=HEIGHT - 60 + (80 if animate else 0), margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure
