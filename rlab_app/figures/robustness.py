"""Figures of the Robustness page: a report's before and after."""
from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rlab_app.figures import HEIGHT
from rlab_core.robustness import RobustnessReport, SideReport

BEFORE, AFTER, ADAPTIVE = "#7f7f7f", "#1f77b4", "#d62728"
ROBUSTNESS_PANELS = ("Accuracy", "Attack success rate", "Median queries (failures at the budget)",
                     "RL success per filter")


def robustness_figure(report: RobustnessReport) -> go.Figure:
    """A robustness report, before and after fine-tuning, in four panels: accuracy (clean and on
    held-out adversarial samples), success rates (RL with the mixture, Square, and the adaptive
    agent against the hardened victim), median queries, and the RL success per filter."""
    before, after, adaptive = report.before, report.after, report.adaptive
    square = f"Square Linf {report.evaluation['square']['eps']:g}"
    filters = list(before.per_filter)
    figure = make_subplots(1, 4, subplot_titles=ROBUSTNESS_PANELS, horizontal_spacing=0.06)
    panels: list[tuple[list[str], Callable[[SideReport], list]]] = [
        (["clean", "held-out adversarial"], lambda s: [s.clean_accuracy, s.adversarial_accuracy]),
        (["RL (mix)", square], lambda s: [s.rl_success_rate, s.square_success_rate]),
        (["RL (mix)", square], lambda s: [s.rl_median_queries, s.square_median_queries]),
        ([f.replace("gaussian_", "") for f in filters], lambda s: [s.per_filter[f]["success_rate"] for f in filters]),
    ]
    for col, (names, values) in enumerate(panels, start=1):
        for side, label, color in ((before, "before", BEFORE), (after, "after", AFTER)):
            figure.add_trace(go.Bar(x=names, y=values(side), name=label, marker_color=color, legendgroup=label,
                                    showlegend=col == 1, hovertemplate=f"{label}: %{{y}}<extra>%{{x}}</extra>"),
                             row=1, col=col)
        if col in (2, 3):  # the adaptive agent attacks the hardened victim only
            value = adaptive.success_rate if col == 2 else adaptive.median_queries
            figure.add_trace(go.Bar(x=["adaptive RL (mix)"], y=[value], name="adaptive agent, after",
                                    marker_color=ADAPTIVE, legendgroup="adaptive", showlegend=col == 2,
                                    hovertemplate="adaptive agent: %{y}<extra></extra>"), row=1, col=col)
    for col in (1, 2, 4):
        figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=col)
    figure.update_yaxes(rangemode="tozero", row=1, col=3)
    figure.update_layout(barmode="group", height=HEIGHT - 40, legend={"orientation": "h", "y": -0.15},
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure
