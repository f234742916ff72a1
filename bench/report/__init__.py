"""Self-contained HTML comparison reports: `python -m bench.report RUN_DIR... [--out reports/NAME.html]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(paths: list[str | Path] | str | Path, out: str | Path, *, title: str | None = None,
                 thumbnails: bool = True) -> dict[str, Any]:
    """Write the report of the runs the paths name to `out`; returns {"path", "bytes", "runs", "frames"}."""
    from bench.load import load_run_data
    from bench.report.data import assemble
    from bench.report.render import render

    runs = load_run_data(paths)
    data = assemble(runs, thumbnails=thumbnails, title=title)
    html = render(data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return {"path": out, "bytes": out.stat().st_size, "runs": [r.label for r in runs], "frames": len(data["frames"]),
            "data": data}


__all__ = ["build_report"]
