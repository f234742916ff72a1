"""Shards as Slurm jobs through hydra-submitit-launcher, with submitit's local executor (no Slurm here).

`hydra/launcher=submitit_local` runs each job of the sweep as a local process the way
`hydra/launcher=submitit_slurm` submits it to Slurm (same pickled job, same result files under
the sweep's .submitit/ folder); the README has the Slurm config for a real cluster.
"""

import os
import subprocess
import sys

import pytest

from bench.load import load_logical_run, load_run, shard_set

from ..conftest import ROOT
from ..test_e2e_sim import make_dataset, run_bench

pytest.importorskip("submitit", reason="submitit is not installed: pip install -e '.[slurm]'")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="hydra-submitit-launcher is not installed: "
                    "pip install -e '.[slurm]'")


@pytest.mark.timeout(240)
def test_three_shards_through_submitit_local_end_exactly_once(tmp_path):
    ds = make_dataset(tmp_path / "ds", 12)
    common = [f"dataset.path={ds}", "dataset.name=t", "runner.progress=false", "model.sim.ttft_s=0.01",
              "model.sim.per_token_s=0.0002"]
    code, whole = run_bench(*common, f"runs_dir={tmp_path / 'whole'}")
    assert code == 0
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "bench", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
         "dataset.shard=range(0,3)", "dataset.num_shards=3", *common, f"runs_dir={tmp_path / 'runs'}",
         f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    assert out.returncode == 0, out.stdout + out.stderr
    assert list(sweep_dir.glob(".submitit/*/*_result.pkl")), "the jobs did not go through submitit"
    shards = shard_set(sweep_dir)
    assert shards is not None and len(shards) == 3
    logical = load_logical_run(shards)
    assert sorted(r["frame_id"] for r in logical.records) == [f"f{i:03d}" for i in range(12)]
    assert {r["frame_id"]: r["text"] for r in logical.records} == \
        {r["frame_id"]: r["text"] for r in load_run(whole).records}
    assert (logical.metrics["completed"], logical.metrics["pending"]) == (12, 0)
    assert logical.meta["status"] == "complete"
