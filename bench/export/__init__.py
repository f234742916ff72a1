"""Send a finished run to where teams already keep results: MLflow or Weights & Biases (conf/export/).

What is sent comes from the run folder only, so a re-export sends the same thing: the run's config as
params (config.yaml, which bench.store wrote with secrets redacted), every number of metrics.json
(scores included) as metrics, tags (model, dataset, status, simulated), and config.yaml, metrics.json,
run.json, scores.jsonl (and a report file, when given) as artifacts. A simulated run is tagged
`simulated=true` and its name starts with SIMULATED. Nothing leaves the machine unless the user named a
server: MLflow defaults to a local sqlite store, W&B to offline mode.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ARTIFACT_FILES = ("config.yaml", "metrics.json", "run.json", "scores.jsonl")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]+")  # what MLflow accepts in a metric or param name
PARAM_MAX_CHARS = 500  # longer values (the prompt's text) are cut in params; config.yaml holds them in full


class ExportError(Exception):
    """The run cannot be exported (not a run folder, the exporter is not installed, the store refused)."""


@dataclass
class RunSnapshot:
    """One run folder, read for export."""

    path: Path
    label: str
    dataset: str
    status: str
    simulated: bool
    config: dict[str, Any]
    metrics: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ("SIMULATED " if self.simulated else "") + f"{self.label} on {self.dataset} · {self.path.name}"

    def tags(self) -> dict[str, str]:
        return {"capbench.model": self.label, "capbench.dataset": self.dataset, "capbench.status": self.status,
                "capbench.simulated": str(self.simulated).lower(), "capbench.run_dir": str(self.path)}


def config_problems(settings: Any) -> list[str]:
    """Checked before a run, so that a run is not made only to fail its export."""
    import importlib.util

    target = getattr(settings, "to", "none") if settings is not None else "none"
    if target in (None, "", "none"):
        return []
    if target not in ("mlflow", "wandb"):
        return [f"export.to={target!r}: use none, mlflow or wandb (export=mlflow / export=wandb)"]
    if importlib.util.find_spec(target) is None:
        return [f"export={target} needs {target}: pip install 'capbench[{target}]' (or leave export= out)"]
    mode = getattr(settings, "mode", None)
    if target == "wandb" and mode not in (None, "offline", "online", "disabled"):
        return [f"export.mode={mode!r}: use offline (nothing leaves the machine) or online"]
    return []


def read_run(run_dir: str | Path, report: str | Path | None = None) -> RunSnapshot:
    path = Path(run_dir).resolve()
    try:
        metrics = json.loads((path / "metrics.json").read_text())
        config = yaml.safe_load((path / "config.yaml").read_text()) or {}
        meta = json.loads((path / "run.json").read_text())
    except FileNotFoundError as exc:
        raise ExportError(f"{run_dir}: not a finished run folder (no {Path(exc.filename).name}); run it first, "
                          "or name the folder that holds metrics.json") from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ExportError(f"{run_dir}: unreadable run file: {exc}") from exc
    files = [path / name for name in ARTIFACT_FILES if (path / name).is_file()]
    if report is not None:
        if not Path(report).is_file():
            raise ExportError(f"report {report}: no such file; build it with `python -m bench.report {run_dir} "
                              f"--out {report}` or leave --report out")
        files.append(Path(report).resolve())
    run = metrics.get("run") or {}
    return RunSnapshot(path=path, label=run.get("model") or meta.get("model") or path.parent.name,
                       dataset=run.get("dataset") or meta.get("dataset") or "?", status=meta.get("status", "?"),
                       simulated=bool(metrics.get("simulated") or meta.get("simulated")), config=config,
                       metrics=metrics, files=files)


def flat_numbers(node: Any, prefix: str = "") -> dict[str, float]:
    """Every finite number in a metrics tree, by dotted key (booleans and lists left out)."""
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flat_numbers(value, f"{prefix}{_KEY_CHARS.sub('_', str(key))}."))
    elif isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node):
        out[prefix.rstrip(".")] = float(node)
    return out


def flat_params(node: Any, prefix: str = "") -> dict[str, str]:
    """The config as dotted key -> text; lists as JSON; values cut at PARAM_MAX_CHARS."""
    if isinstance(node, dict) and node:
        out: dict[str, str] = {}
        for key, value in node.items():
            out.update(flat_params(value, f"{prefix}{_KEY_CHARS.sub('_', str(key))}."))
        return out
    text = node if isinstance(node, str) else json.dumps(node, default=str)
    if len(text) > PARAM_MAX_CHARS:
        text = text[:PARAM_MAX_CHARS - 1] + "…"
    return {prefix.rstrip("."): text}


def export_run(run_dir: str | Path, settings: Any, *, runs_dir: str | Path = "runs",
               report: str | Path | None = None) -> str:
    """Export one run folder as `settings` (an ExportConfig) says; returns where it went, for the console."""
    target = settings.to
    if target in (None, "", "none"):
        return ""
    run = read_run(run_dir, report)
    if target == "mlflow":
        from bench.export.to_mlflow import export_mlflow

        return export_mlflow(run, settings, Path(runs_dir))
    if target == "wandb":
        from bench.export.to_wandb import export_wandb

        return export_wandb(run, settings, Path(runs_dir))
    raise ExportError(f"export.to={target!r}: use none, mlflow or wandb (export=mlflow / export=wandb)")
