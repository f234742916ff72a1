"""The report's pairwise section: the ranking the report's runs took part in (bench.pairwise_results,
RUN/pairwise.json), as a win/tie/loss matrix (heatmap), a ranked chart of Bradley-Terry strengths with their
95% intervals, the significance of each pair, and the judge's position-consistency rate.

When the runs were ranked in different rankings, the one covering most of them is shown (then the latest)
and a note names the runs it leaves out. Names are the report's run labels where a ranked run is in the
report; text that reaches a figure is HTML-escaped (bench.report.figures.esc), the tables are autoescaped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench import pairwise_results
from bench.load import RunData

COMMAND = "python -m bench.score RUN_A RUN_B ... pairwise=true"


def _resolved(path: Any) -> str:
    try:
        return str(Path(str(path)).resolve())
    except OSError:
        return str(path)


def pairwise_section(runs: list[RunData], labels: list[str]) -> dict[str, Any] | None:
    """The section's data, or None when no run of the report was ranked pairwise."""
    found = [(lab, run, pairwise_results.read(run.path)) for lab, run in zip(labels, runs, strict=True)]
    ranked = [(lab, run, e) for lab, run, e in found if e]
    if not ranked:
        return None
    counts = Counter((e.get("ranking_file"), e.get("created")) for _, _, e in ranked)
    chosen = max(counts, key=lambda k: (counts[k], str(k[1])))
    entry = next(e for _, _, e in ranked if (e.get("ranking_file"), e.get("created")) == chosen)
    summary = entry["ranking"]
    r = summary["ranking"]
    by_path = {_resolved(run.path): lab for lab, run in zip(labels, runs, strict=True)}
    label = {name: by_path.get(_resolved(info["path"]), f"{name} (not in this report)")
             for name, info in summary["runs"].items()}
    order = [s["model"] for s in r["strengths"]]
    models = []
    for s in r["strengths"]:
        wtl = {k: sum(v[k] for v in r["matrix"][s["model"]].values()) for k in ("win", "tie", "loss")}
        models.append({"name": s["model"], "label": label[s["model"]], "theta": s["theta"], "ci95": s["ci95"], **wtl,
                       "in_report": _resolved(summary["runs"][s["model"]]["path"]) in by_path,
                       "simulated": bool(summary["runs"][s["model"]].get("simulated"))})
    pairs = [{**p, "a_label": label[p["a"]], "b_label": label[p["b"]]} for p in r["pairs"]]
    notes = []
    left = [lab for lab, _, e in found if not e or (e.get("ranking_file"), e.get("created")) != chosen]
    if left:
        notes.append(f"Not in this ranking: {', '.join(left)} (ranked in another ranking or never; rank the runs "
                     f"together with {COMMAND}).")
    judge = summary["judge"]
    if judge.get("simulated"):
        notes.append(f"SIMULATED judge ({judge.get('label')}): the verdicts came from capbench's simulator, not a "
                     "model; the ranking tests the harness.")
    notes += [str(w) for w in summary.get("warnings") or []]
    return {"judge": {k: judge.get(k) for k in ("label", "model_name", "rubric", "simulated")},
            "mode": summary.get("mode"), "baselines": [label.get(b, b) for b in summary.get("baselines") or []],
            "frames": summary.get("frames"), "battles": summary.get("battles"),
            "battles_failed": summary.get("battles_failed"), "method": r.get("method"),
            "position_consistency": summary.get("position_consistency"), "models": models, "pairs": pairs,
            "ranking_file": entry.get("ranking_file"), "created": summary.get("created"), "notes": notes,
            "figures": {"matrix": matrix_figure(order, label, r["matrix"]), "ranked": ranked_figure(models)}}


def matrix_figure(order: list[str], label: dict[str, str], matrix: dict[str, dict[str, dict[str, int]]]
                  ) -> dict[str, Any]:
    """Heatmap: row model's score against the column model, (wins + ties/2) / battles, with W/T/L per cell."""
    import plotly.graph_objects as go

    from bench.report.figures import _fig, esc

    names = [esc(label[m]) for m in order]
    z, text = [], []
    for row in order:
        zr, tr = [], []
        for col in order:
            cell = matrix[row].get(col) if row != col else None
            n = sum(cell.values()) if cell else 0
            zr.append((cell["win"] + cell["tie"] / 2) / n if n else None)
            tr.append(f"{cell['win']}/{cell['tie']}/{cell['loss']}" if n else "")
        z.append(zr)
        text.append(tr)
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale="RdBu", colorbar={"title": {"text": "score"}},
                               hovertemplate="%{y} vs %{x}: W/T/L %{text}, score %{z:.2f}<extra></extra>"))
    return _fig(fig, "Win / tie / loss of the row model against the column model", height=120 + 60 * len(order),
                yaxis={"autorange": "reversed", "title": {"text": "row model"}, "automargin": True},
                xaxis={"title": {"text": "against"}, "side": "bottom"})


def ranked_figure(models: list[dict[str, Any]]) -> dict[str, Any]:
    """Bradley-Terry log-strengths, best on top, with their 95% bootstrap intervals."""
    import plotly.graph_objects as go

    from bench.report.figures import _fig, esc

    names = [esc(m["label"]) + (" (SIMULATED)" if m["simulated"] else "") for m in models]
    fig = go.Figure(go.Scatter(
        x=[m["theta"] for m in models], y=names, mode="markers", marker={"size": 10, "color": "#1f77b4"},
        error_x={"type": "data", "symmetric": False, "array": [m["ci95"][1] - m["theta"] for m in models],
                 "arrayminus": [m["theta"] - m["ci95"][0] for m in models]},
        customdata=[[m["win"], m["tie"], m["loss"]] for m in models],
        hovertemplate="%{y}: strength %{x:+.2f}, W/T/L %{customdata[0]}/%{customdata[1]}/%{customdata[2]}"
                      "<extra></extra>"))
    axis = {"title": {"text": "log-strength (difference = log-odds of winning)"}, "zeroline": True}
    return _fig(fig, "Bradley-Terry strength (log, mean 0) with 95% bootstrap interval", height=120 + 50 * len(models),
                yaxis={"autorange": "reversed", "automargin": True}, xaxis=axis)
