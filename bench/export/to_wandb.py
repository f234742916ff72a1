"""Weights & Biases: one W&B run per capbench run; offline (a local folder) unless the user chose online."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.export import ExportError, RunSnapshot, flat_numbers


def wandb_mode(settings: Any) -> str:
    mode = settings.mode or os.environ.get("WANDB_MODE") or "offline"
    if mode not in ("offline", "online", "disabled"):
        raise ExportError(f"export.mode={mode!r}: use offline (the default: nothing leaves the machine) or online")
    return mode


def export_wandb(run: RunSnapshot, settings: Any, runs_dir: Path) -> str:
    try:
        import wandb
    except ImportError as exc:
        raise ExportError("export=wandb needs wandb: pip install 'capbench[wandb]'") from exc
    mode = wandb_mode(settings)
    folder = Path(settings.dir) if settings.dir else runs_dir
    tags = [run.label, run.dataset, run.status] + (["SIMULATED"] if run.simulated else [])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # console off: W&B would otherwise copy this process's stdout into the run
        wb = wandb.init(project=settings.experiment, entity=settings.entity, name=run.name, dir=str(folder),
                        mode=mode, config=run.config, tags=[t[:64] for t in tags], job_type="capbench-run",
                        notes=("SIMULATED model: not a real model's numbers. " if run.simulated else "")
                        + f"run folder {run.path}", reinit="create_new",
                        settings=wandb.Settings(console="off", save_code=False, silent=True))
        with wb:
            wb.summary.update({**flat_numbers(run.metrics), **run.tags()})
            if settings.artifacts and run.files:
                artifact = wandb.Artifact(f"capbench-{wb.id}", type="capbench-run",
                                          metadata={"simulated": run.simulated, "model": run.label})
                for path in run.files:
                    artifact.add_file(str(path))
                wb.log_artifact(artifact)
            where = wb.dir if mode == "offline" else (wb.url or wb.id)
    except (wandb.errors.Error, OSError) as exc:
        raise ExportError(f"W&B ({mode}) refused the export: {exc}") from exc
    hint = f"; upload with `wandb sync {Path(where).parent}`" if mode == "offline" else ""
    return f"W&B run {wb.id} ({mode}) {where}{hint}"
