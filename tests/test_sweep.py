"""`python -m bench -m ...`: one sweep over the simulator in all three wire protocols."""

import json
import subprocess
import sys

from bench.load import find_run_dirs

from .conftest import ROOT
from .test_e2e_sim import make_dataset


def test_multirun_over_three_protocols(tmp_path):
    ds = make_dataset(tmp_path / "ds", 3)
    out = subprocess.run([sys.executable, "-m", "bench", "-m", "model=sim,sim_anthropic,sim_gemini",
                          f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                          "runner.progress=false"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    metrics = {p.parent.parent.name: json.loads(p.read_text()) for p in (tmp_path / "runs").glob("t/*/*/metrics.json")}
    assert set(metrics) == {"sim", "sim_anthropic", "sim_gemini"}
    for label, m in metrics.items():
        assert m["completed"] == 3 and m["schema_valid_rate"] == 1.0 and m["simulated"] is True, label
        assert m["mean_input_tokens"] > 256 and m["cost_per_million_usd"] > 0
    # the sweep folder leads the report to exactly the sweep's runs
    (sweep,) = (tmp_path / "runs" / "multirun").iterdir()
    assert sorted(p.parent.name for p in find_run_dirs([sweep])) == ["sim", "sim_anthropic", "sim_gemini"]


def test_a_sweep_goes_on_past_a_failing_job_and_exits_with_its_code(tmp_path):
    ds = make_dataset(tmp_path / "ds", 2)
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENAI_API_KEY"}
    out = subprocess.run([sys.executable, "-m", "bench", "-m", "model=sim,gpt-4.1,sim_noisy", f"dataset.path={ds}",
                          "dataset.name=t", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 2, out.stderr
    assert "1 of 3 jobs failed: model=gpt-4.1 (job 1, exit 2)" in out.stderr
    assert {p.parent.parent.name for p in (tmp_path / "runs").glob("t/*/*/metrics.json")} == {"sim", "sim_noisy"}
