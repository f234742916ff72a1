"""The report's Plotly figures, as JSON-ready dicts (plotly.js draws them in the page).

Text that reaches a figure (run labels, content types, field names — a field
name can come from a model's extra JSON key) is HTML-escaped first: plotly
treats a few tags in labels as markup, and `&lt;` is shown as `<`.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from bench.load import FIELDS, RunData

LADDER = (("json_strict", "JSON (strict)"), ("json_lenient", "JSON (lenient)"), ("schema_valid", "schema valid"),
          ("rules_ok", "prompt rules"))
CATEGORY_ORDER = ("valid", "rule_violation", "schema_invalid", "not_json", "truncated", "refused", "transport_error",
                  "bad_input")
CATEGORY_COLORS = {"valid": "#2ca02c", "rule_violation": "#bcbd22", "schema_invalid": "#ff7f0e",
                   "not_json": "#d62728", "truncated": "#9467bd", "refused": "#8c564b", "transport_error": "#7f7f7f",
                   "bad_input": "#17becf"}
CDF_POINTS = 1000  # per curve: a drawn CDF needs no more, and the page stays small at any number of frames
LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "template": "plotly_white", "height": 380,
          "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}}


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def colors(labels: list[str]) -> dict[str, str]:
    palette = qualitative.Plotly + qualitative.D3
    return {lab: palette[i % len(palette)] for i, lab in enumerate(labels)}


def _fig(fig: go.Figure, title: str, **layout: Any) -> dict[str, Any]:
    fig.update_layout(**{**LAYOUT, "title": {"text": esc(title), "x": 0.01}, **layout})
    return json.loads(fig.to_json())


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def pareto(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Non-dominated points for (lower cost, higher quality), sorted by cost."""
    front: list[tuple[float, float, str]] = []
    for c, q, lab in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or q > front[-1][1]:
            front.append((c, q, lab))
    return front


QUALITY_RANGES = {"judge": (1.0, 5.0), "rougeL": (0.0, 100.0), "schema_valid": (0.0, 1.0)}  # the scales' own ends
LOG_SPAN = 10  # costs spanning more than this factor are drawn on a log axis
LABEL_NEAR = 0.06  # points closer than this share of both axes' spans get stacked labels
LABEL_STEP_PX = 16  # vertical spacing of stacked labels (font 12)


def cost_axis(costs: list[float]) -> dict[str, Any]:
    """The x axis: log when the costs span more than LOG_SPAN (ranges in log10 units, padded a quarter decade),
    else linear from $0, so a $410 vs $435 gap looks as small as it is."""
    pos = [c for c in costs if c > 0]
    if pos and max(pos) / min(pos) > LOG_SPAN:
        lo, hi = math.log10(min(pos)), math.log10(max(pos))
        return {"title": "$ per 1M generations (log scale)", "type": "log", "range": [lo - 0.25, hi + 0.25]}
    top = max(costs) if costs else 1.0
    return {"title": "$ per 1M generations", "type": "linear", "range": [0, (top or 1.0) * 1.15],
            "rangemode": "tozero"}


def label_offsets(points: list[tuple[float, float]], xspan: float, yspan: float) -> list[tuple[int, int]]:
    """(ax, ay) pixel offsets of each point's label: a point alone gets its label just above it; points within
    LABEL_NEAR of each other's axis spans form a cluster whose labels are stacked LABEL_STEP_PX apart to the
    right, each with an arrow to its point, so they never print over one another."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][1], points[i][0]))
    clusters: list[list[int]] = []
    for i in order:
        x, y = points[i]
        for cl in clusters:
            if any(abs(x - points[j][0]) <= LABEL_NEAR * xspan and abs(y - points[j][1]) <= LABEL_NEAR * yspan
                   for j in cl):
                cl.append(i)
                break
        else:
            clusters.append([i])
    out = [(0, -22)] * len(points)
    for cl in clusters:
        if len(cl) == 1:
            continue
        top = -(LABEL_STEP_PX * (len(cl) - 1)) // 2 - 10
        for k, i in enumerate(cl):
            out[i] = (46, top + LABEL_STEP_PX * k)
    return out


def cost_quality(runs_df: Any, labels: list[str], metric: str, col: dict[str, str]) -> dict[str, Any] | None:
    ycol = {"judge": "judge_mean", "rougeL": "rougeL", "schema_valid": "schema_valid_rate"}[metric]
    fig = go.Figure()
    points = []
    lows, highs = [], []
    for rec in runs_df.to_dict("records"):
        x, y = _num(rec["cost_per_million_usd"]), _num(rec[ycol])
        if x is None or y is None:
            continue
        if metric == "judge":
            lo, hi = _num(rec.get("judge_ci_low")), _num(rec.get("judge_ci_high"))
        elif metric == "schema_valid":
            lo, hi = _num(rec.get("schema_valid_ci_low")), _num(rec.get("schema_valid_ci_high"))
        else:
            lo = hi = None
        err = {"type": "data", "symmetric": False, "array": [hi - y], "arrayminus": [y - lo]} \
            if lo is not None and hi is not None else None
        points.append((x, y, rec["run"]))
        lows.append(lo if lo is not None else y)
        highs.append(hi if hi is not None else y)
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=esc(rec["run"]), text=[esc(rec["run"])],
                                 error_y=err,
                                 marker={"size": 14, "color": col[rec["run"]],
                                         "symbol": "diamond-open" if rec.get("simulated") else "circle"},
                                 hovertemplate="%{text}<br>$%{x:,.0f} per 1M<br>%{y:.3f}<extra></extra>"))
    if not points:
        return None  # no run has both a cost and a quality value
    front = pareto(points)
    if len(front) > 1:
        fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines", name="Pareto frontier",
                                 line={"dash": "dot", "color": "#444", "shape": "hv"}, hoverinfo="skip"))
    xaxis = cost_axis([p[0] for p in points])
    log = xaxis["type"] == "log"
    # y: the measure's whole scale (judge 1-5, ROUGE-L 0-100, validity 0-100%), widened to any interval beyond it
    ylo, yhi = QUALITY_RANGES[metric]
    ylo, yhi = min(ylo, *lows), max(yhi, *highs)
    pad = 0.06 * (yhi - ylo)
    yaxis = {"title": esc({"judge": "judge score (1-5)", "rougeL": "ROUGE-L",
                           "schema_valid": "schema validity rate"}[metric]), "range": [ylo - pad, yhi + pad]}
    if metric == "schema_valid":
        yaxis["tickformat"] = ".0%"
    plotted = [(math.log10(p[0]) if log and p[0] > 0 else p[0], p[1]) for p in points]
    offsets = label_offsets(plotted, xaxis["range"][1] - xaxis["range"][0], yhi - ylo + 2 * pad)
    annotations = [{"x": px, "y": py, "xref": "x", "yref": "y", "text": esc(p[2]), "showarrow": True, "ax": ax,
                    "ay": ay, "arrowhead": 0, "arrowwidth": 1, "arrowcolor": "#888", "standoff": 7,
                    "xanchor": "left" if ax else "center", "font": {"size": 12, "color": col[p[2]]}}
                   for (px, py), p, (ax, ay) in zip(plotted, points, offsets, strict=True)]
    return _fig(fig, "Cost vs quality", xaxis=xaxis, yaxis=yaxis, showlegend=True, annotations=annotations)


def latency_cdf(frames_df: Any, labels: list[str], col: dict[str, str], open_loop: set[str] | None = None
                ) -> dict[str, Any] | None:
    """E2EL and TTFT per run; for open-loop runs also E2EL from the scheduled send time (queueing included)."""
    fig = go.Figure()
    open_loop = open_loop or set()
    for lab in labels:
        g = frames_df[frames_df["run"] == lab] if not frames_df.empty else frames_df
        curves = [("e2el_s", "solid", "E2EL"), ("ttft_s", "dot", "TTFT")]
        if lab in open_loop:
            curves.append(("e2el_from_scheduled_s", "dash", "E2EL from scheduled"))
        for key, dash, name in curves:
            vals = np.sort(g[key].dropna().to_numpy(dtype=float)) if len(g) and key in g else np.array([])
            if not vals.size:
                continue
            y = np.arange(1, vals.size + 1) / vals.size
            if vals.size > CDF_POINTS:  # the steps at CDF_POINTS evenly spaced ranks, first and last included
                keep = np.unique(np.linspace(0, vals.size - 1, CDF_POINTS).round().astype(int))
                vals, y = vals[keep], y[keep]
            fig.add_trace(go.Scatter(x=np.round(vals, 4).tolist(), y=np.round(y, 4).tolist(), mode="lines",
                                     name=esc(f"{lab} {name}"), legendgroup=esc(lab),
                                     line={"color": col[lab], "dash": dash, "shape": "hv"},
                                     hovertemplate=esc(f"{lab} {name}") + ": %{x:.3f} s (%{y:.0%})<extra></extra>"))
    if not fig.data:
        return None  # no frame has a latency (every request failed): the page says so instead of empty axes
    title = "Latency distribution (CDF): end-to-end solid, time to first token dotted"
    if open_loop:
        title = "Latency (CDF): end-to-end solid, first token dotted, open loop: end-to-end from scheduled dashed"
    return _fig(fig, title, xaxis={"title": "seconds"},
                yaxis={"title": "share of frames", "tickformat": ".0%", "range": [0, 1.02]})


def validity_ladder(runs: list[RunData], labels: list[str], col: dict[str, str]) -> dict[str, Any]:
    fig = go.Figure()
    for run, lab in zip(runs, labels, strict=True):
        ladder = ((run.metrics.get("validity") or {}).get("ladder")) or {}
        ys, lo, hi = [], [], []
        for rung, _ in LADDER:
            r = ladder.get(rung) or {}
            y = _num(r.get("rate"))
            ci = r.get("ci95") or [None, None]
            ys.append(y)
            lo.append(None if y is None or ci[0] is None else y - ci[0])
            hi.append(None if y is None or ci[1] is None else ci[1] - y)
        fig.add_trace(go.Bar(x=[name for _, name in LADDER], y=ys, name=esc(lab), marker_color=col[lab],
                             error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                             hovertemplate=esc(lab) + " %{x}: %{y:.1%}<extra></extra>"))
    return _fig(fig, "Validity ladder (95% Wilson intervals)", barmode="group",
                yaxis={"title": "share of frames sent (bad inputs apart)", "tickformat": ".0%", "range": [0, 1.05]})


def categories(runs: list[RunData], labels: list[str]) -> dict[str, Any]:
    fig = go.Figure()
    cats = [c for c in CATEGORY_ORDER if any((r.metrics.get("validity") or {}).get("categories", {}).get(c)
                                             for r in runs)]
    extra = sorted({c for r in runs for c in ((r.metrics.get("validity") or {}).get("categories") or {})} - set(cats))
    for cat in cats + extra:
        xs = []
        for run in runs:
            counts = (run.metrics.get("validity") or {}).get("categories") or {}
            total = sum(counts.values()) or 1
            xs.append(counts.get(cat, 0) / total)
        fig.add_trace(go.Bar(y=[esc(lab) for lab in labels], x=xs, name=esc(cat), orientation="h",
                             marker_color=CATEGORY_COLORS.get(cat, "#aaa"),
                             hovertemplate="%{y}: " + esc(cat) + " %{x:.1%}<extra></extra>"))
    return _fig(fig, "Outcome of every frame", barmode="stack", xaxis={"tickformat": ".0%", "range": [0, 1]},
                height=max(220, 90 + 40 * len(labels)))


def field_failures(runs: list[RunData], labels: list[str]) -> dict[str, Any]:
    fields = list(FIELDS)
    for run in runs:
        for f in ((run.metrics.get("validity") or {}).get("field_failures") or {}):
            if f not in fields:
                fields.append(str(f))
    z, text = [], []
    for run in runs:
        ff = (run.metrics.get("validity") or {}).get("field_failures") or {}
        n = run.metrics.get("recorded") or len(run.records) or 1
        z.append([ff.get(f, 0) / n for f in fields])
        text.append([f"{ff.get(f, 0)}" for f in fields])
    fig = go.Figure(go.Heatmap(z=z, x=[esc(f) for f in fields], y=[esc(lab) for lab in labels], text=text,
                               texttemplate="%{text}", colorscale="Reds", zmin=0,
                               zmax=max(0.05, max(map(max, z or [[0]]))),
                               colorbar={"title": "share", "tickformat": ".0%"},
                               hovertemplate="%{y} · %{x}: %{text} frames (%{z:.1%})<extra></extra>"))
    return _fig(fig, "Failing fields (schema or prompt-rule failures, frames)", height=max(240, 120 + 40 * len(labels)),
                yaxis={"autorange": "reversed"})


def per_field_overlap(field_means: dict[str, dict[str, float | None]], labels: list[str],
                      col: dict[str, str]) -> dict[str, Any] | None:
    """Each run's mean ROUGE-L per caption field (field_means: label -> field -> mean, RunFrames.field_means)."""
    if not any(v is not None for lab in labels for v in field_means.get(lab, {}).values()):
        return None
    fig = go.Figure()
    for lab in labels:
        means = field_means.get(lab, {})
        fig.add_trace(go.Bar(x=list(FIELDS), y=[means.get(f) for f in FIELDS],
                             name=esc(lab), marker_color=col[lab],
                             hovertemplate=esc(lab) + " %{x}: ROUGE-L %{y:.1f}<extra></extra>"))
    return _fig(fig, "ROUGE-L per field vs reference", barmode="group", yaxis={"title": "ROUGE-L (0-100)"})


NOT_SIGNIFICANT = "#d9d9d9"


def significance_matrix(sig: dict[str, Any]) -> dict[str, Any] | None:
    """Row − column differences: coloured (red/blue) where p < 0.05, grey where not; None with fewer than two
    runs or no shared scored frame (the page says "not enough data" instead of an empty plot)."""
    labels = sig["labels"]
    cells = [c for row in sig["cells"] for c in row if c is not None and c["diff"] is not None and c["n"]]
    if len(labels) < 2 or not cells:
        return None
    z_sig, z_grey, text = [], [], []
    for row in sig["cells"]:
        zs, zg, tr = [], [], []
        for cell in row:
            if cell is None or cell["diff"] is None:
                zs.append(None)
                zg.append(None)
                tr.append("")
                continue
            significant = cell["p"] is not None and cell["p"] < 0.05
            zs.append(cell["diff"] if significant else None)
            zg.append(None if significant else 0.0)
            p = "n/a" if cell["p"] is None else f"{cell['p']:.2g}"
            tr.append(f"{cell['diff']:+.3g}<br>p={p}{' *' if significant else ''}<br>n={cell['n']}")
        z_sig.append(zs)
        z_grey.append(zg)
        text.append(tr)
    vals = [abs(v) for r in z_sig for v in r if v]
    lim = max(vals) if vals else 1.0
    axis = [esc(lab) for lab in labels]
    def only(z: list[list[float | None]]) -> list[list[str]]:  # each layer labels its own cells
        return [[t if v is not None else "" for t, v in zip(tr, zr, strict=True)] for tr, zr in zip(text, z,
                                                                                                     strict=True)]

    fig = go.Figure([
        go.Heatmap(z=z_grey, x=axis, y=axis, text=only(z_grey), texttemplate="%{text}",
                   colorscale=[[0, NOT_SIGNIFICANT], [1, NOT_SIGNIFICANT]], showscale=False, hoverinfo="skip"),
        go.Heatmap(z=z_sig, x=axis, y=axis, text=only(z_sig), texttemplate="%{text}", colorscale="RdBu", zmid=0,
                   zmin=-lim, zmax=lim, colorbar={"title": "diff"}, showscale=bool(vals), hoverinfo="skip"),
    ])
    return _fig(fig, f"Paired differences, row − column, of {sig['label']} (coloured: p<0.05, marked *; "
                     "grey: not significant)",
                height=max(260, 140 + 60 * len(labels)), yaxis={"autorange": "reversed"},
                xaxis={"side": "bottom"})


def content_heatmap(frames_df: Any, labels: list[str], metric: str) -> dict[str, Any] | None:
    if frames_df.empty:
        return None
    col = {"judge": "judge_score", "rougeL": "rougeL", "schema_valid": "schema_valid"}[metric]
    cts = sorted(frames_df["content_type"].dropna().unique().tolist())
    z, text = [], []
    for lab in labels:
        g = frames_df[frames_df["run"] == lab]
        row, tr = [], []
        for ct in cts:
            s = g[g["content_type"] == ct][col].astype(float).dropna()  # the count is of the frames averaged
            m = _num(s.mean()) if len(s) else None
            row.append(m)
            tr.append("" if m is None else (f"{m:.0%}" if metric == "schema_valid" else f"{m:.2f}") + f" ({len(s)})")
        z.append(row)
        text.append(tr)
    if all(v is None for r in z for v in r):
        return None
    fig = go.Figure(go.Heatmap(z=z, x=[esc(c) for c in cts], y=[esc(lab) for lab in labels], text=text,
                               texttemplate="%{text}", colorscale="Viridis", hoverinfo="skip",
                               colorbar={"title": esc(metric)}))
    return _fig(fig, f"By content type: {'schema validity' if metric == 'schema_valid' else metric} "
                     "(frames with a value)",
                height=max(240, 130 + 40 * len(labels)), yaxis={"autorange": "reversed"})


def build_figures(runs: list[RunData], runs_df: Any, frames_df: Any, labels: list[str], metric: str,
                  sig: dict[str, Any], field_means: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    col = colors(labels)
    open_loop = {rec["run"] for rec in runs_df.to_dict("records")
                 if rec.get("runner_mode") == "open" or _num(rec.get("target_rate")) is not None}
    figs = {
        "cost_quality": cost_quality(runs_df, labels, metric, col),
        "latency_cdf": latency_cdf(frames_df, labels, col, open_loop),
        "ladder": validity_ladder(runs, labels, col),
        "categories": categories(runs, labels),
        "field_failures": field_failures(runs, labels),
        "per_field": per_field_overlap(field_means, labels, col),
        "significance": significance_matrix(sig),
        "content": content_heatmap(frames_df, labels, metric),
    }
    return {k: v for k, v in figs.items() if v is not None}
