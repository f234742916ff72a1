"""MLflow: one MLflow run per capbench run, through MlflowClient (no global active run to leak between runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.export import ExportError, RunSnapshot, flat_numbers, flat_params

_BATCH = 100  # MLflow's log_batch takes at most 100 params (and 1,000 metrics) per call


def tracking_uri(settings: Any, runs_dir: Path) -> str:
    """The configured URI, else $MLFLOW_TRACKING_URI, else a sqlite file under runs_dir: local unless named."""
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") \
        or f"sqlite:///{(runs_dir / 'mlflow.db').resolve()}"


def export_mlflow(run: RunSnapshot, settings: Any, runs_dir: Path) -> str:
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ExportError("export=mlflow needs MLflow: pip install 'capbench[mlflow]'") from exc
    uri = tracking_uri(settings, runs_dir)
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 keeps the file store only on request; the user asked for it by naming a file: URI.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(settings.experiment)
        if experiment is None:
            location = settings.artifact_location or (runs_dir / "mlflow-artifacts").resolve().as_uri()
            experiment_id = client.create_experiment(settings.experiment, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        created = client.create_run(experiment_id, run_name=run.name, tags=run.tags())
        run_id = created.info.run_id
        params = [Param(k, v) for k, v in flat_params(run.config).items()]
        metrics = [Metric(k, v, 0, 0) for k, v in flat_numbers(run.metrics).items()]
        for i in range(0, len(params), _BATCH):
            client.log_batch(run_id, params=params[i:i + _BATCH])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        client.log_batch(run_id, tags=[RunTag("mlflow.note.content", _note(run))])
        if settings.artifacts:
            for path in run.files:
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED" if run.status == "complete" else "FAILED")
    except (MlflowException, OSError) as exc:
        raise ExportError(f"MLflow at {uri} refused the export: {exc}") from exc
    return f"MLflow run {run_id} in experiment {settings.experiment!r} at {uri}"


def _note(run: RunSnapshot) -> str:
    sim = "**SIMULATED model: not a real model's numbers.** " if run.simulated else ""
    return f"{sim}capbench run of {run.label} on {run.dataset} ({run.status}); run folder `{run.path}`."
