"""Export to MLflow (real sqlite and file stores) and W&B (real offline mode): bench.export, conf/export/."""

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.export import flat_numbers, flat_params
from bench.export.__main__ import main as export_main

from .conftest import ROOT

mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def private_wandb(tmp_path, monkeypatch):
    """W&B keeps settings, caches and artifact staging under ~ unless told otherwise."""
    for var in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home" / var.lower()))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nothing may land in the real ~ either
    return tmp_path


def _sim_run(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    # the shipped sample's first frames: they have references, so the run is scored
    out = subprocess.run([sys.executable, "-m", "bench", f"dataset.path={ROOT / 'datasets/sample'}", "dataset.name=t",
                          "dataset.limit=3", "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002",
                          f"runs_dir={tmp_path / 'runs'}", "runner.progress=false", *extra],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240, env=os.environ)
    run_dirs = sorted(p.parent for p in (tmp_path / "runs").glob("t/*/*/metrics.json"))
    return out, run_dirs[-1] if run_dirs else None


def test_a_run_with_export_mlflow_lands_in_a_local_sqlite_store(private_wandb, tmp_path):
    out, run_dir = _sim_run(tmp_path, "export=mlflow", "+model.extra_headers.X-Api-Token=s3cr3t-token-value")
    assert out.returncode == 0, out.stderr
    db = tmp_path / "runs" / "mlflow.db"
    assert db.is_file() and "exported: MLflow run" in out.stderr
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{db}")
    (run,) = client.search_runs([client.get_experiment_by_name("capbench").experiment_id])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run.info.run_name.startswith("SIMULATED sim on t")
    assert run.data.tags["capbench.simulated"] == "true" and run.data.tags["capbench.run_dir"] == str(run_dir)
    assert run.data.params["model.label"] == "sim" and run.data.params["dataset.limit"] == "3"
    assert run.data.metrics["schema_valid_rate"] == pytest.approx(metrics["schema_valid_rate"])
    assert run.data.metrics["completed"] == 3
    assert run.data.metrics["scores.overlap.all.rougeL.mean"] == pytest.approx(
        metrics["scores"]["overlap"]["all"]["rougeL"]["mean"])
    assert run.info.status == "FINISHED"
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.json", "run.json", "scores.jsonl"} <= names
    # the header's value went nowhere: not in the store, not in its artifacts (the run's redacted config was sent)
    assert run.data.params["model.extra_headers.X-Api-Token"] == "***redacted***"
    for path in (tmp_path / "runs").rglob("*"):
        assert not path.is_file() or b"s3cr3t-token-value" not in path.read_bytes(), path
    # artifacts beside the store, not in the working directory's ./mlruns
    assert not (tmp_path / "mlruns").exists() and (tmp_path / "runs" / "mlflow-artifacts").is_dir()


def test_export_command_to_a_file_store_with_a_report_for_a_folder_of_runs(private_wandb, tmp_path):
    runs = []
    for _ in range(2):
        out, run_dir = _sim_run(tmp_path, "resume=never")
        assert out.returncode == 0, out.stderr
        runs.append(run_dir)
    report = tmp_path / "report.html"
    report.write_text("<html>report</html>")
    store = tmp_path / "store"
    code = export_main([str(tmp_path / "runs"), f"export.tracking_uri={store.as_uri()}",
                        "export.experiment=nightly", "--to", "mlflow", "--report", str(report),
                        f"export.artifact_location={(tmp_path / 'art').as_uri()}"])
    assert code == 0
    client = mlflow.tracking.MlflowClient(tracking_uri=store.as_uri())
    found = client.search_runs([client.get_experiment_by_name("nightly").experiment_id])
    assert sorted(r.data.tags["capbench.run_dir"] for r in found) == sorted(str(r) for r in runs)
    for r in found:
        assert "report.html" in {a.path for a in client.list_artifacts(r.info.run_id)}


def test_export_command_names_a_bad_run_folder_and_a_missing_target(tmp_path, capsys):
    assert export_main([str(tmp_path), "export=mlflow"]) == 2
    assert "holds no run folders" in capsys.readouterr().err
    (tmp_path / "run.json").write_text("{}")
    assert export_main([str(tmp_path)]) == 2
    assert "export=mlflow or export=wandb" in capsys.readouterr().err
    assert export_main([str(tmp_path), "export=nosuch"]) == 2
    assert "export=nosuch" in capsys.readouterr().err


def test_an_unknown_export_target_stops_before_the_run(tmp_path):
    out, run_dir = _sim_run(tmp_path, "export.to=mlfow")
    assert out.returncode == 2 and "export.to='mlfow'" in out.stderr
    assert run_dir is None


def test_wandb_offline_export_writes_a_local_run_and_sends_nothing(private_wandb, tmp_path):
    pytest.importorskip("wandb")
    out, run_dir = _sim_run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert export_main([str(run_dir), "export=wandb", f"runs_dir={tmp_path / 'runs'}"]) == 0
    (offline,) = (tmp_path / "runs" / "wandb").glob("offline-run-*")
    records = _wandb_records_when_summarised(next(offline.glob("*.wandb")))
    config = {item.key: json.loads(item.value_json) for r in records for c in (r.config, r.run.config)
              for item in c.update}
    summary = {item.key: json.loads(item.value_json) for r in records if r.HasField("summary")
               for item in r.summary.update}
    (run_rec,) = [r.run for r in records if r.HasField("run")][:1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run_rec.display_name.startswith("SIMULATED sim on t") and "SIMULATED" in run_rec.tags
    assert config["model"]["label"] == "sim"
    assert summary["schema_valid_rate"] == pytest.approx(metrics["schema_valid_rate"])
    assert summary["capbench.simulated"] == "true"
    assert any(r.HasField("artifact") for r in records)


def _wandb_records_when_summarised(path: Path, wait_s: float = 30.0) -> list:
    """The run file's records once its summary is in it: wandb's core process may still be appending the last
    records when finish() has returned (seen on a loaded machine), so read again until the summary shows."""
    deadline = time.monotonic() + wait_s
    while True:
        records = _wandb_records(path)
        keys = {item.key for r in records if r.HasField("summary") for item in r.summary.update}
        if "schema_valid_rate" in keys or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _wandb_records(path: Path) -> list:
    """The records of an offline run file. wandb 0.31 ships no Python reader: the file is a ':W&B' header
    (7 bytes) and LevelDB-log records (crc32, length, type; 32 KiB blocks) of protobuf `Record`s."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, out, buf = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        buf = chunk if kind in (1, 2) else buf + chunk  # 1 full, 2 first, 3 middle, 4 last
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buf)
            out.append(record)
    return out


def test_flatteners_keep_numbers_and_cut_long_params():
    assert flat_numbers({"a": {"b": 1, "c": True, "d": [1], "e": float("nan"), "f c/x:y": 2.5}}) == \
        {"a.b": 1.0, "a.f c/x_y": 2.5}
    params = flat_params({"prompt": {"user": "x" * 3000}, "l": [1, 2], "n": None})
    assert len(params["prompt.user"]) == 500 and params["l"] == "[1, 2]" and params["n"] == "null"


def test_choosing_an_export_does_not_start_a_new_run_on_resume():
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir
    from bench.store import fingerprint

    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        plain = [compose(config_name="config", overrides=[f"export={name}"]) for name in ("none", "mlflow", "wandb")]
    from omegaconf import OmegaConf

    prints = {fingerprint(OmegaConf.to_container(c, resolve=True)) for c in plain}
    assert len(prints) == 1 and plain[1].export.to == "mlflow" and plain[2].export.to == "wandb"


def test_a_failed_export_keeps_the_run_and_its_exit_code_and_says_how_to_retry(private_wandb, tmp_path):
    out, run_dir = _sim_run(tmp_path, "export=mlflow", "export.tracking_uri=sqlite:////proc/no/such/m.db")
    assert out.returncode == 0, out.stderr
    assert "export failed: MLflow at sqlite:////proc/no/such/m.db refused the export" in out.stderr
    assert f"export it again with `python -m bench.export {run_dir} export=mlflow`" in out.stderr
    assert (run_dir / "metrics.json").is_file()
    # piped: the run's opening line is one line, path and SIMULATED label together
    assert f"new run: {run_dir}  (3 frames, 3 to do)  SIMULATED model\n" in out.stderr
    assert export_main([str(run_dir), "export=mlflow", "export.tracking_uri=sqlite:////proc/no/such/m.db"]) == 1
