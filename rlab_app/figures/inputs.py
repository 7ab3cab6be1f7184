"""Figures of an input and of the victim's answer (the Inspect page, the upload box's recording)
and the gallery's thumbnails."""
from __future__ import annotations

import io
from typing import cast

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from rlab_app.figures import HEIGHT, LINE
from rlab_core.sample import Sample

MAX_POINTS = 20_000  # a longer recording is thinned for display: browsers stall on millions of points
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
