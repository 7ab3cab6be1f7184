"""Plotly figures of inputs, predictions and attacks, for the app. Drawing only: nothing here computes results."""
from __future__ import annotations

import io
from collections.abc import Mapping
from typing import cast, overload

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from rlab_core.attacks.replay import put_back
from rlab_core.attacks.result import StepRecord
from rlab_core.explanations.output import OPACITY, unit_scale
from rlab_core.patches import PatchGrid
from rlab_core.sample import Sample

HEIGHT = 420
MAX_POINTS = 20_000  # a longer recording is thinned for display: browsers stall on millions of points
LINE = "#1f77b4"
BEAT_SHADE = "rgba(120, 120, 120, 0.15)"
CHOSEN_SHADE = "rgba(255, 127, 14, 0.35)"
TRUE_CLASS = "#2ca02c"
THUMBNAIL = 96  # the gallery's thumbnails: their longer side, in pixels
THUMBNAIL_BEAT = (THUMBNAIL, 64)  # an ECG beat's thumbnail, width and height
SUPERSAMPLE = 4  # a beat's line is drawn this many times larger, then shrunk: smooth edges


def input_figure(sample: Sample) -> go.Figure:
    """The input as the victim sees it. Inputs are channels first, so the rank tells the modality."""
    draw = {2: beat_figure, 3: image_figure, 4: video_figure}[sample.x.dim()]
    return draw(sample)


def beat_figure(sample: Sample) -> go.Figure:
    """An ECG beat in its own units: the ``[0, 1]`` scaling is undone with ``sample.scale``."""
    low, high = sample.scale or (0.0, 1.0)
    values = low + sample.x[0].numpy() * (high - low)
    figure = go.Figure(go.Scatter(y=values, mode="lines", line_color=LINE))
    figure.update_layout(height=HEIGHT, xaxis_title=f"sample (the victim reads {len(values)} per beat)",
                         yaxis_title="amplitude")
    return figure


def image_figure(sample: Sample) -> go.Figure:
    return _frames_figure(sample.x[:, None])


def video_figure(sample: Sample) -> go.Figure:
    """A clip with a frame slider and a play button (Plotly animation frames, no rerun of the app)."""
    return _frames_figure(sample.x)


def _frames_figure(x: torch.Tensor) -> go.Figure:
    """Draw ``(C, T, H, W)`` frames; a single frame is a still image, several get a slider."""
    frames = x.permute(1, 2, 3, 0).numpy()  # (T, H, W, C)
    animate = {"animation_frame": 0, "labels": {"animation_frame": "frame"}} if len(frames) > 1 else {}
    if frames.shape[-1] == 1:
        figure = px.imshow(_squeeze_still(frames[..., 0]), color_continuous_scale="gray", zmin=0, zmax=1, **animate)
        figure.update_coloraxes(showscale=False)
    else:
        figure = px.imshow(_squeeze_still((frames * 255).round().astype(np.uint8)), **animate)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(height=HEIGHT + (80 if animate else 0), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _squeeze_still(frames: np.ndarray) -> np.ndarray:
    """``px.imshow`` wants a still as ``(H, W[, 3])`` and a clip as ``(T, H, W[, 3])``."""
    return frames[0] if len(frames) == 1 else frames


def thumbnail(x: torch.Tensor, size: int = THUMBNAIL) -> bytes:
    """A small PNG of an input for the gallery (``size`` pixels on its longer side): an image as it
    is, a clip's middle frame, an ECG beat as a line. Pictures, not Plotly figures: quick to send and draw."""
    if x.dim() == 2:
        picture = _beat_thumbnail(x[0].numpy(), (size, round(size * THUMBNAIL_BEAT[1] / THUMBNAIL_BEAT[0])))
    else:
        frame = x if x.dim() == 3 else x[:, x.shape[1] // 2]  # (C, H, W)
        pixels = (frame.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
        picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        factor = size / max(picture.size)
        # Small pictures (28 x 28) grow as crisp blocks; large ones (224 x 224) shrink smoothly.
        resample = Image.Resampling.NEAREST if factor >= 2 else Image.Resampling.LANCZOS
        picture = picture.resize(cast(tuple[int, int], tuple(max(1, round(side * factor)) for side in picture.size)), resample)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _beat_thumbnail(values: np.ndarray, shape: tuple[int, int]) -> Image.Image:
    """A beat's line on white in a light frame, ``shape`` = (width, height)."""
    width, height = shape[0] * SUPERSAMPLE, shape[1] * SUPERSAMPLE
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    low, high = float(values.min()), float(values.max())
    pad = 0.12 * height
    ys = height - pad - (values - low) / ((high - low) or 1.0) * (height - 2 * pad)
    xs = pad / 2 + np.arange(len(values)) * (width - pad) / max(len(values) - 1, 1)
    draw.line(list(zip(xs.tolist(), ys.tolist())), fill=LINE, width=2 * SUPERSAMPLE, joint="curve")
    draw.rectangle([0, 0, width - 1, height - 1], outline="#d0d0d0", width=SUPERSAMPLE)
    return picture.resize(shape, Image.Resampling.LANCZOS)


def recording_figure(recording: np.ndarray, fs: float | None, beats: list[tuple[int, int]], chosen: int) -> go.Figure:
    """Lead 1 of a whole ECG recording (the lead the victim reads), every other beat window shaded
    so that the windows can be told apart, and the chosen beat highlighted."""
    lead = recording[0]
    step = max(1, len(lead) // MAX_POINTS)
    index = np.arange(0, len(lead), step)
    rate = fs or 1.0  # samples per axis unit: seconds with a sampling rate, else samples
    low, high = float(lead.min()), float(lead.max())
    others = [span for i, span in enumerate(beats) if i % 2 == 0 and i != chosen]
    figure = go.Figure([
        _bands(others, low, high, rate, BEAT_SHADE, "beat windows"),
        _bands([beats[chosen]], low, high, rate, CHOSEN_SHADE, f"beat {chosen}"),
        go.Scatter(x=index / rate, y=lead[index], mode="lines", line_color=LINE, name="lead 1"),
    ])
    figure.update_layout(height=300, xaxis_title="time (s)" if fs else "sample", yaxis_title="amplitude",
                         legend={"orientation": "h", "y": 1.12}, margin={"t": 40})
    return figure


def _bands(spans: list[tuple[int, int]], low: float, high: float, rate: float, color: str, name: str) -> go.Scatter:
    """Shaded ``(start, stop)`` windows as one trace of closed rectangles separated by gaps:
    a recording may hold thousands of beats, which would be slow as separate layout shapes."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for start, stop in spans:
        xs += [start / rate, start / rate, stop / rate, stop / rate, start / rate, None]
        ys += [low, high, high, low, low, None]
    return go.Scatter(x=xs, y=ys, fill="toself", fillcolor=color, mode="none", name=name, hoverinfo="skip")


def top_figure(top: list[tuple[str, float]], true_name: str | None = None) -> go.Figure:
    """Horizontal bars of the victim's top classes, best on top; the true class, if among them, in green."""
    names = [name for name, _ in top]
    probs = [prob for _, prob in top]
    colors = [TRUE_CLASS if name == true_name else LINE for name in names]
    figure = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colors,
                              text=[f"{p:.1%}" for p in probs], textposition="auto"))
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


# ------------------------------------------------------------------------------------- attacks
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


# ---------------------------------------------------------------------------------- explanations
# Inferno, as the CLI's overlays (rlab_core.explanations.output), written in rgb(): Plotly's own starts at
# #000004, one of the placeholder colours Streamlit's Plotly theme swaps for its own (a pink).
MAP_COLORS = [f"rgb{px.colors.hex_to_rgb(color)}" for color in px.colors.sequential.Inferno]
MAP_COLUMNS = 4
ECG_MAP_HEIGHT = 150  # per map: an ECG's maps are stacked, one strip each
MAP_SCALE = {"colorscale": MAP_COLORS, "cmin": 0, "cmax": 1,
             "colorbar": {"title": {"text": "importance", "side": "right"}, "thickness": 12}}


def explanation_figure(sample: Sample, maps: dict[str, torch.Tensor], frame: int | None = None) -> go.Figure:
    """Every map over the input, titled by its key, in one colour scale with one colorbar: each map
    scaled to its own ``[0, 1]`` (a clip's over all its frames), since methods' raw units differ.
    An image gets the map as a heat map over it; a clip the same at ``frame``; an ECG its trace
    over a band shaded by the map, one strip per map."""
    if sample.x.dim() == 2:
        return _ecg_explanation(sample, maps)
    gray = sample.x.mean(dim=0)  # (H, W) or (T, H, W): the input under the colours, as the CLI's overlays
    gray = gray if frame is None else gray[frame]
    columns = min(len(maps), MAP_COLUMNS)
    rows = -(-len(maps) // columns)
    figure = make_subplots(rows, columns, subplot_titles=list(maps), horizontal_spacing=0.02, vertical_spacing=0.06)
    for k, (name, values) in enumerate(maps.items()):
        heat = unit_scale(values)
        heat = heat if frame is None else heat[frame]
        cell = {"row": k // columns + 1, "col": k % columns + 1}
        figure.add_trace(go.Heatmap(z=gray.numpy(), coloraxis="coloraxis2", hoverinfo="skip"), **cell)
        figure.add_trace(go.Heatmap(z=heat.numpy(), coloraxis="coloraxis", opacity=OPACITY, name=name,
                                    hovertemplate="importance %{z:.2f}<extra></extra>"), **cell)
        axis = "" if k == 0 else k + 1
        figure.update_yaxes(scaleanchor=f"x{axis}", **cell)  # square pixels in every cell
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    figure.update_layout(coloraxis=MAP_SCALE, coloraxis2={"colorscale": "gray", "cmin": 0, "cmax": 1, "showscale": False},
                         height=rows * 260 + 40, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def _ecg_explanation(sample: Sample, maps: dict[str, torch.Tensor]) -> go.Figure:
    low, high = sample.scale or (0.0, 1.0)
    trace = low + sample.x[0].numpy() * (high - low)
    bottom, top = float(trace.min()), float(trace.max())
    figure = make_subplots(len(maps), 1, subplot_titles=list(maps), shared_xaxes=True, vertical_spacing=0.04)
    for k, (name, values) in enumerate(maps.items()):
        # One row of cells, as tall as the trace's range: the band under the line.
        figure.add_trace(go.Heatmap(z=unit_scale(values).numpy()[None], x0=0, dx=1, y0=(bottom + top) / 2,
                                    dy=top - bottom, coloraxis="coloraxis", opacity=OPACITY, name=name,
                                    hovertemplate="importance %{z:.2f}<extra></extra>"), k + 1, 1)
        figure.add_trace(go.Scatter(y=trace, mode="lines", line={"color": "black", "width": 1}, showlegend=False,
                                    hoverinfo="skip"), k + 1, 1)
    figure.update_xaxes(title="sample", row=len(maps), col=1)
    figure.update_yaxes(range=[bottom, top], showticklabels=False)
    figure.update_layout(coloraxis=MAP_SCALE, height=len(maps) * ECG_MAP_HEIGHT + 60,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


# ---------------------------------------------------------------------------------- robustness
BEFORE, AFTER, ADAPTIVE = "#7f7f7f", "#1f77b4", "#d62728"
ROBUSTNESS_PANELS = ("Accuracy", "Attack success rate", "Median queries (failures at the budget)",
                     "RL success per filter")


def robustness_figure(report: dict) -> go.Figure:
    """A robustness report, before and after fine-tuning, in four panels: accuracy (clean and on
    held-out adversarial samples), success rates (RL with the mixture, Square, and the adaptive
    agent against the hardened victim), median queries, and the RL success per filter."""
    before, after, adaptive = report["before"], report["after"], report["adaptive"]
    square = f"Square Linf {report['evaluation']['square']['eps']:g}"
    filters = list(before["per_filter"])
    figure = make_subplots(1, 4, subplot_titles=ROBUSTNESS_PANELS, horizontal_spacing=0.06)
    panels = [
        (["clean", "held-out adversarial"], lambda s: [s["clean_accuracy"], s["adversarial_accuracy"]]),
        (["RL (mix)", square], lambda s: [s["rl_success_rate"], s["square_success_rate"]]),
        (["RL (mix)", square], lambda s: [s["rl_median_queries"], s["square_median_queries"]]),
        ([f.replace("gaussian_", "") for f in filters], lambda s: [s["per_filter"][f]["success_rate"] for f in filters]),
    ]
    for col, (names, values) in enumerate(panels, start=1):
        for side, label, color in ((before, "before", BEFORE), (after, "after", AFTER)):
            figure.add_trace(go.Bar(x=names, y=values(side), name=label, marker_color=color, legendgroup=label,
                                    showlegend=col == 1, hovertemplate=f"{label}: %{{y}}<extra>%{{x}}</extra>"),
                             row=1, col=col)
        if col in (2, 3):  # the adaptive agent attacks the hardened victim only
            value = adaptive["success_rate"] if col == 2 else adaptive["median_queries"]
            figure.add_trace(go.Bar(x=["adaptive RL (mix)"], y=[value], name="adaptive agent, after",
                                    marker_color=ADAPTIVE, legendgroup="adaptive", showlegend=col == 2,
                                    hovertemplate="adaptive agent: %{y}<extra></extra>"), row=1, col=col)
    for col in (1, 2, 4):
        figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=col)
    figure.update_yaxes(rangemode="tozero", row=1, col=3)
    figure.update_layout(barmode="group", height=HEIGHT - 40, legend={"orientation": "h", "y": -0.15},
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


# ---------------------------------------------------------------------------------- benchmarks
BENCH_COLORS = {"rl": "#d62728", "greedy": "#2ca02c", "random": "#7f7f7f", "square": "#1f77b4",
                "square_linf": "#17becf", "simba": "#9467bd"}


def _bench_attacks(report: dict) -> list[str]:
    return [a for a in report.get("attacks", report["curves"]) if a in report["curves"]]


def bench_curves_figure(report: dict) -> go.Figure:
    """A benchmark's success rate against queries, one line per attack, queries on a log axis:
    the fraction of inputs fooled within ``q`` queries, from the report's ``curves`` (a geometric
    grid of ``q`` up to the budget; a failure never counts)."""
    figure = go.Figure()
    for name in _bench_attacks(report):
        curve = report["curves"][name]
        line = {"color": BENCH_COLORS.get(name), "shape": "hv", "width": 2.5 if name == "rl" else 1.8}
        figure.add_trace(go.Scatter(x=curve["queries"], y=curve["success_rate"], mode="lines", name=name, line=line,
                                    hovertemplate=f"{name}: %{{y:.1%}} fooled within %{{x}} queries<extra></extra>"))
    figure.update_xaxes(type="log", range=[0, float(np.log10(report["budget"]))],
                        title="queries (the clean prediction included)")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", title="success rate")
    figure.update_layout(height=HEIGHT, title=f"Success rate within q queries (budget {report['budget']})",
                         legend={"orientation": "h", "y": -0.2}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def bench_queries_figure(report: dict) -> go.Figure:
    """A benchmark's median queries per attack (a failure counts as the whole budget), one bar each,
    its success rate in the hover."""
    rows = {row["attack"]: row for row in report["rows"]}
    names = [a for a in report.get("attacks", rows) if a in rows]
    medians = [rows[a]["median_queries"] for a in names]
    success = [rows[a]["success_rate"] for a in names]
    figure = go.Figure(go.Bar(
        x=names, y=medians, marker_color=[BENCH_COLORS.get(a, LINE) for a in names],
        text=["" if m is None else f"{m:g}" for m in medians], textposition="outside", customdata=success,
        showlegend=False,
        hovertemplate="%{x}: median %{y:g} queries, success %{customdata:.1%}<extra></extra>"))
    top = max([m for m in medians if m is not None], default=1)
    figure.update_yaxes(range=[0, top * 1.18 or 1], title="median queries")
    figure.update_layout(height=HEIGHT, title=f"Median queries (failures at the budget, {report['budget']})",
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure
