"""Throughput of 1, 2 and 4 client processes (shards) against one simulator.

    python benchmarks/shards.py [--frames 600] [--processes 1 2 4] [--concurrency 16]

Starts one simulator (`python -m bench.sim`, TTFT 50 ms + 2 ms/token, no jitter) on 127.0.0.1,
builds a dataset of N entries cycling over the sample's real images, and for each process count P
runs the dataset as P shards, P `python -m bench` processes at once (dataset.shard=i
dataset.num_shards=P), each at --concurrency requests in flight, all against that one server.
Each row: requests/s of the logical run (bench.shards: completed / the union of the shards' time
spans), the wall time of the whole launch (process start-up included), E2EL p50, and the client
CPU per request (user + system time of the P processes, from wait4). SIMULATED: this measures the
harness and loopback HTTP, not a model. On a shared 2-core machine more processes than cores
mostly add start-up and contention.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim_throughput import build_dataset  # noqa: E402

from bench.load import load_logical_run  # noqa: E402
from bench.server_process import free_port  # noqa: E402


def start_sim(log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "bench.sim", "--port", str(port), "--set", "ttft_s=0.05",
                            "--set", "ttft_jitter_s=0", "--set", "per_token_s=0.002", "--set",
                            "per_token_jitter_s=0"], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return sim, port
        except httpx.HTTPError:
            time.sleep(0.1)
    sim.kill()
    raise SystemExit(f"the simulator did not start; see {log}")


def sharded_run(ds: Path, runs: Path, port: int, processes: int, concurrency: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    t0 = time.perf_counter()
    for shard in range(processes):
        cmd = [sys.executable, "-m", "bench", "model=openai_compatible", f"model.base_url=http://127.0.0.1:{port}/v1",
               "model.name=sim", "model.price.input_per_million=0.30", "model.price.output_per_million=0.50",
               f"dataset.path={ds}", "dataset.name=bench", f"runs_dir={runs}", "runner.progress=false",
               f"runner.concurrency={concurrency}", "resume=never"]
        if processes > 1:
            cmd += [f"dataset.shard={shard}", f"dataset.num_shards={processes}"]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    cpu, codes = 0.0, []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        codes.append(p.returncode)
        cpu += usage.ru_utime + usage.ru_stime
    wall = time.perf_counter() - t0
    dirs = sorted((runs / "bench" / "openai_compatible").iterdir())
    if processes > 1:
        m = load_logical_run(dirs).metrics
    else:
        from bench.load import load_run

        m = load_run(dirs[0]).metrics
    return {"processes": processes, "exit": max(codes), "completed": m["completed"], "frames": m["frames"],
            "req_s": m["requests_per_s"], "wall_s": wall, "e2el_p50_ms": m["e2el_p50_s"] * 1000,
            "cpu_ms_per_req": cpu / max(1, m["completed"]) * 1000, "simulated": m["simulated"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight per process")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="capbench-shards-") as tmp:
        tmp_path = Path(tmp)
        ds = build_dataset(tmp_path / "ds", args.frames)
        sim, port = start_sim(tmp_path / "sim.log")
        try:
            print(f"{args.frames} frames, {args.concurrency} in flight per process, SIMULATED server "
                  f"(TTFT 50 ms + 2 ms/token), {os.cpu_count()} CPUs")
            print(f"{'processes':>9} {'exit':>4} {'done':>9} {'req/s':>8} {'wall s':>7} {'E2EL p50 ms':>11} "
                  f"{'client CPU ms/req':>17}")
            for n in args.processes:
                r = sharded_run(ds, tmp_path / f"runs{n}", port, n, args.concurrency)
                print(f"{r['processes']:>9} {r['exit']:>4} {r['completed']:>4}/{r['frames']:<4} {r['req_s']:>8.1f} "
                      f"{r['wall_s']:>7.1f} {r['e2el_p50_ms']:>11.0f} {r['cpu_ms_per_req']:>17.1f}", flush=True)
        finally:
            sim.terminate()
            sim.wait(timeout=10)


if __name__ == "__main__":
    main()
