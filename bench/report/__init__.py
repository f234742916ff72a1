"""Self-contained HTML comparison reports: `python -m bench.report RUN_DIR... [--out reports/NAME.html]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report.sample import DEFAULT_MAX_FRAMES


def build_report(paths: list[str | Path] | str | Path, out: str | Path, *, title: str | None = None,
                 thumbnails: bool = True, max_embedded_frames: int = DEFAULT_MAX_FRAMES, sample_seed: int = 0,
                 **selection: str | None) -> dict[str, Any]:
    """Write the report of the runs the paths name to `out`, and every frame to `<out stem>.frames.parquet` beside
    it; returns {"path", "bytes", "parquet", "runs", "frames", "data"}. The runs are read in bounded memory (records
    streamed, bench.report.stream); beyond max_embedded_frames frames the explorer holds the failed and disputed
    frames and a stratified sample (bench.report.sample). selection: scoring=, reference=, judge=."""
    from bench.load import load_run_data
    from bench.report.data import assemble
    from bench.report.parquet import parquet_path_for
    from bench.report.render import render

    out = Path(out)
    runs = load_run_data(paths, records=False, **selection)
    data = assemble(runs, thumbnails=thumbnails, title=title, max_embedded_frames=max_embedded_frames,
                    sample_seed=sample_seed, parquet_path=parquet_path_for(out))
    html = render(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return {"path": out, "bytes": out.stat().st_size, "parquet": parquet_path_for(out), "runs": [r.label for r in runs],
            "frames": len(data["frames"]), "data": data}


__all__ = ["build_report"]
