"""Batch runs of N frames (default 1,000) per provider against the simulator's batch protocols (SIMULATED).

    python benchmarks/batch_1k.py [--frames 1000] [--per-batch 250] [--turnaround 8]

For each provider (OpenAI Batch, Anthropic Message Batches, Gemini Batch Mode, each through its official
SDK): `python -m bench runner=batch` is started, SIGKILLed while it polls (after every batch was
submitted, before any ended), and re-run with the same command; the script checks that no batch was
submitted twice and every frame is recorded exactly once, then runs the same frames on demand against the
same simulator and prints the batch cost beside the on-demand cost. The simulator runs in this process
(as a provider would, outside the harness) so the batches survive the kill.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.config import SimConfig  # noqa: E402
from bench.sim.batch import BATCH  # noqa: E402
from bench.sim.server import SimServer  # noqa: E402
from bench.store import load_records  # noqa: E402

MODELS = {"openai": ("sim", "/v1"), "anthropic": ("sim_anthropic", ""), "gemini": ("sim_gemini", "")}


def make_frames(folder: Path, n: int) -> Path:
    lines = []
    for i in range(n):
        img = Image.new("RGB", (160, 90), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        img.paste((255 - (i * 37) % 256, 40, 40), (i % 100, 10, i % 100 + 40, 60))
        path = folder / "images" / f"f{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=85)
        lines.append(json.dumps({"id": f"f{i:04d}", "image": f"images/f{i:04d}.jpg"}))
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--per-batch", type=int, default=250)
    ap.add_argument("--turnaround", type=float, default=8.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="capbench-batch1k-"))
    ds = make_frames(tmp / "ds", args.frames)
    fast = dict(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    with SimServer(SimConfig(batch_turnaround_s=args.turnaround, **fast)).in_thread() as sim:
        for provider, (model, suffix) in MODELS.items():
            common = [sys.executable, "-m", "bench", f"model={model}", "model.serve=",
                      f"model.base_url={sim.base_url}{suffix}", f"dataset.path={ds}", "dataset.name=batch1k",
                      "runner.progress=false", "reference=null"]
            cmd = [*common, "runner=batch", f"runs_dir={tmp / 'runs-batch'}", "runner.batch.poll_interval_s=0.5",
                   f"runner.batch.max_requests={args.per_batch}"]
            before = sim.app[BATCH].submitted
            want = -(-args.frames // args.per_batch)
            t0 = time.time()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            while sim.app[BATCH].submitted - before < want and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(1.0)  # polling now
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            (run_dir,) = (tmp / "runs-batch" / "batch1k").glob(f"{model}/*")
            recorded_at_kill = len(load_records(run_dir))
            again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.time() - t0
            recs = load_records(run_dir)
            ids = [r["frame_id"] for r in recs]
            m = json.loads((run_dir / "metrics.json").read_text())
            od = subprocess.run([*common, "runner=closed", "runner.concurrency=16", f"runs_dir={tmp / 'runs-od'}"],
                                cwd=ROOT, env=env, capture_output=True, text=True)
            (od_dir,) = (tmp / "runs-od" / "batch1k").glob(f"{model}/*")
            od_m = json.loads((od_dir / "metrics.json").read_text())
            b = m["batch"]
            rows.append({
                "provider": provider, "exit_after_resume": again.returncode,
                "batches_submitted": sim.app[BATCH].submitted - before, "expected_batches": want,
                "recorded_at_kill": recorded_at_kill, "records": len(ids), "unique_frames": len(set(ids)),
                "answered": m["completed"], "failed": m["failed"], "schema_valid_rate": m["schema_valid_rate"],
                "turnaround_p50_s": b["turnaround_s"]["p50"], "frames_per_hour": b["frames_per_hour"],
                "batch_cost_per_1M": b["cost_per_million_usd"],
                "same_tokens_on_demand_per_1M": b["on_demand_cost_per_million_usd"],
                "on_demand_run_per_1M": od_m["cost_per_million_usd"], "on_demand_exit": od.returncode,
                "wall_s": wall, "simulated": m["simulated"],
            })
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
