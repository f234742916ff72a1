"""Self-contained HTML comparison reports: `python -m bench.report RUN_DIR... [--out reports/NAME.html]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report.sample import DEFAULT_MAX_FRAMES


def build_report(paths: list[str | Path] | str | Path, out: str | Path, *, title: str | None = None,
                 thumbnails: bool = True, max_embedded_frames: int = DEFAULT_MAX_FRAMES, sample_seed: int = 0,
                 baseline: str | Path | None = None, latest: bool = False, include_all: bool = False,
                 min_frames: int | None = None, **selection: str | None) -> dict[str, Any]:
    """Write the report of the runs the paths name to `out`, and every frame to `<out stem>.frames.parquet` beside
    it; returns {"path", "bytes", "parquet", "runs", "frames", "data"}. The runs are read in bounded memory (records
    streamed, bench.report.stream); beyond max_embedded_frames frames the explorer holds the failed and disputed
    frames and a stratified sample (bench.report.sample). baseline (a run folder: the diff view), latest, include_all,
    min_frames (default 10): as the command's options (bench.report.choose). selection: scoring=, reference=,
    judge=."""
    from bench.report.choose import DEFAULT_MIN_FRAMES, load_report_runs
    from bench.report.data import assemble
    from bench.report.parquet import parquet_path_for
    from bench.report.render import render

    out = Path(out)
    runs, base_index, chosen = load_report_runs([paths] if isinstance(paths, str | Path) else list(paths),
                                                baseline=baseline, latest=latest, include_all=include_all,
                                                min_frames=DEFAULT_MIN_FRAMES if min_frames is None else min_frames,
                                                **selection)
    data = assemble(runs, thumbnails=thumbnails, title=title, max_embedded_frames=max_embedded_frames,
                    sample_seed=sample_seed, parquet_path=parquet_path_for(out), baseline=base_index)
    data["notes"] = chosen + data["notes"]
    html = render(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return {"path": out, "bytes": out.stat().st_size, "parquet": parquet_path_for(out), "runs": [r.label for r in runs],
            "frames": len(data["frames"]), "data": data}


__all__ = ["build_report"]
