"""Figures of the Benchmark page: a report's success curves and median queries."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from rlab_app.figures import HEIGHT, LINE

if TYPE_CHECKING:
    from rlab_core.bench import BenchReport

BENCH_COLORS = {"rl": "#d62728", "greedy": "#2ca02c", "random": "#7f7f7f", "square": "#1f77b4",
                "square_linf": "#17becf", "simba": "#9467bd"}


def bench_curves_figure(report: BenchReport) -> go.Figure:
    """A benchmark's success rate against queries, one line per attack, queries on a log axis:
    the fraction of inputs fooled within ``q`` queries, from the report's ``curves`` (a geometric
    grid of ``q`` up to the budget; a failure never counts)."""
    figure = go.Figure()
    for name in (a for a in report.config.attacks if a in report.curves):
        curve = report.curves[name]
        line = {"color": BENCH_COLORS.get(name), "shape": "hv", "width": 2.5 if name == "rl" else 1.8}
        figure.add_trace(go.Scatter(x=curve["queries"], y=curve["success_rate"], mode="lines", name=name, line=line,
                                    hovertemplate=f"{name}: %{{y:.1%}} fooled within %{{x}} queries<extra></extra>"))
    figure.update_xaxes(type="log", range=[0, float(np.log10(report.config.budget))],
                        title="queries (the clean prediction included)")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", title="success rate")
    figure.update_layout(height=HEIGHT, title=f"Success rate within q queries (budget {report.config.budget})",
                         legend={"orientation": "h", "y": -0.2}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def bench_queries_figure(report: BenchReport) -> go.Figure:
    """A benchmark's median queries per attack (a failure counts as the whole budget), one bar each,
    its success rate in the hover."""
    rows = {row["attack"]: row for row in report.rows}
    names = [a for a in report.config.attacks if a in rows]
    medians = [rows[a]["median_queries"] for a in names]
    success = [rows[a]["success_rate"] for a in names]
    figure = go.Figure(go.Bar(
        x=names, y=medians, marker_color=[BENCH_COLORS.get(a, LINE) for a in names],
        text=["" if m is None else f"{m:g}" for m in medians], textposition="outside", customdata=success,
        showlegend=False,
        hovertemplate="%{x}: median %{y:g} queries, success %{customdata:.1%}<extra></extra>"))
    top = max([m for m in medians if m is not None], default=1)
    figure.update_yaxes(range=[0, top * 1.18 or 1], title="median queries")
    figure.update_layout(height=HEIGHT, title=f"Median queries (failures at the budget, {report.config.budget})",
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure
