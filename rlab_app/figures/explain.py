"""Figures of the Explain page: every attribution map over the input, in one colour scale."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from rlab_app.figures import HEIGHT
from rlab_core.explanations.output import OPACITY, unit_scale
from rlab_core.sample import Sample

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


def budget_curves_figure(rows: list[dict], metric: str, title: str) -> go.Figure:
    """A committed benchmark's black-box methods against their query budget: the mean ``metric``
    (``"dice"`` or ``"gridpg"``) of each method's map at each budget it was read at, one line per
    method, queries on a log axis. A method with a fixed cost is one point at that cost."""
    figure = go.Figure()
    for method in dict.fromkeys(row["method"] for row in rows):
        points = [r for r in rows if r["method"] == method and r.get(f"{metric}_mean") is not None]
        if not points:
            continue
        # A fixed-cost method was read once whatever the budget: its x is what it spent.
        queries = [min(r["budget"], r["max_queries"]) for r in points]
        figure.add_trace(go.Scatter(x=queries, y=[r[f"{metric}_mean"] for r in points], mode="lines+markers",
                                    name=method, line={"width": 2.5 if method == "rl" else 1.5},
                                    hovertemplate=f"{method}: %{{y:.3f}} within %{{x}} queries<extra></extra>"))
    figure.update_xaxes(type="log", title="queries")
    figure.update_yaxes(range=[0, 1.02], title=metric)
    figure.update_layout(height=HEIGHT, title=title, legend={"orientation": "h", "y": -0.25},
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure
