"""The planner's chart: $ against frames for each model, on demand, by Batch API and self-hosted.

`cost_figure()` returns a plotly Figure (log-log: cost is linear in frames, so each way of paying is
a straight line and the break-even is where two lines cross); `bench.report` can include it with
`fig.to_dict()`, as its other figures. Model names are HTML-escaped (plotly.js renders tags in
trace names) and simulated ones say SIMULATED.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from bench.plan.costs import ModelInputs, plan

DEFAULT_VOLUMES = tuple(10.0 ** e for e in range(3, 10))  # 1,000 to 1B frames


def cost_figure(models: Sequence[ModelInputs], volumes: Sequence[float] = DEFAULT_VOLUMES,
                title: str = "What N frames cost") -> go.Figure:
    fig = go.Figure()
    for m in models:
        name = html.escape(m.model) + (" (SIMULATED)" if m.simulated else "")
        plans = [plan(m, v) for v in volumes]
        for label, values, dash in (("on demand", [p.on_demand_usd for p in plans], "solid"),
                                    ("Batch API", [p.batch_usd for p in plans], "dash"),
                                    ("self-hosted", [p.self_hosted_usd for p in plans], "dot")):
            if all(v is None for v in values):
                continue
            fig.add_trace(go.Scatter(x=list(volumes), y=values, mode="lines+markers", name=f"{name}: {label}",
                                     line={"dash": dash},
                                     hovertemplate="%{x:,.0f} frames: $%{y:,.2f}<extra>" + f"{name}: {label}"
                                                   + "</extra>"))
    fig.update_layout(title=title + (" (includes SIMULATED models)" if any(m.simulated for m in models) else ""),
                      xaxis={"title": "frames", "type": "log"}, yaxis={"title": "US$", "type": "log"},
                      legend={"orientation": "v"}, template="plotly_white")
    return fig
