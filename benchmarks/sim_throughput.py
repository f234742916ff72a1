"""Harness throughput and latency against the embedded simulator.

    python benchmarks/sim_throughput.py [--frames 1000] [--concurrency 8 32] [--rate 50]

Builds a dataset of N manifest entries cycling over the sample frames (real
images, so encoding cost is real), runs the full harness (Hydra config ->
runner -> simulator over TCP -> run folder) in closed loop at each
concurrency and, with --rate, in open loop, and prints one table row per run.
The simulator's own latency is configured (TTFT 50 ms, 2 ms/token), so the
numbers measure the harness plus loopback HTTP, not a model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.__main__ import conf_dir  # noqa: E402
from bench.app import run  # noqa: E402
from bench.config import register  # noqa: E402


def build_dataset(folder: Path, n: int) -> Path:
    sample = ROOT / "datasets" / "sample"
    entries = [json.loads(line) for line in (sample / "manifest.jsonl").read_text().splitlines() if line.strip()]
    folder.mkdir(parents=True, exist_ok=True)
    for e in entries:
        link = folder / Path(e["image"]).name
        if not link.exists():
            link.symlink_to(sample / e["image"])
    with (folder / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            e = entries[i % len(entries)]
            fh.write(json.dumps({"id": f"b{i:05d}", "image": Path(e["image"]).name,
                                 "content_type": e.get("content_type")}) + "\n")
    return folder


def one_run(ds: Path, runs: Path, label: str, extra: list[str]) -> dict:
    overrides = [f"dataset.path={ds}", "dataset.name=bench", f"runs_dir={runs}", "runner.progress=false",
                 "resume=never", *extra]
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    t0 = time.perf_counter()
    code = run(cfg, Console(stderr=True, quiet=True), summary=False)
    wall = time.perf_counter() - t0
    run_dir = sorted(runs.glob("bench/sim/*"))[-1]
    m = json.loads((run_dir / "metrics.json").read_text())
    thr = m["throughput"]
    return {"run": label, "exit": code, "frames": m["frames"], "valid": m["schema_valid_rate"],
            "wall_s": wall, "req_s": m["requests_per_s"], "tok_s": m["output_tokens_per_s"],
            "ttft_p50": m["ttft_p50_s"], "e2el_p50": m["e2el_p50_s"], "e2el_p95": m["e2el_p95_s"],
            "achieved": thr.get("achieved_rate"), "saturated": thr.get("saturated")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--rate", type=float, nargs="*", default=[50.0])
    args = ap.parse_args()
    register()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ds = build_dataset(Path(tmp) / "ds", args.frames)
        runs = Path(tmp) / "runs"
        for c in args.concurrency:
            rows.append(one_run(ds, runs, f"closed c={c}", [f"runner.concurrency={c}"]))
        for r in args.rate:
            rows.append(one_run(ds, runs, f"open {r:g}/s", ["runner=open", f"runner.rate={r}"]))
    head = f"{'run':<14}{'frames':>7}{'valid':>7}{'wall s':>8}{'req/s':>8}{'tok/s':>9}{'TTFT p50':>10}" \
           f"{'E2EL p50':>10}{'E2EL p95':>10}{'achieved':>10}"
    print(f"\nsimulator: TTFT 50 ms + 2 ms/token (SIMULATED), {args.frames} requests per run\n")
    print(head)
    print("-" * len(head))
    for r in rows:
        ach = f"{r['achieved']:.1f}" + ("*" if r["saturated"] else "") if r["achieved"] else "-"
        print(f"{r['run']:<14}{r['frames']:>7}{r['valid']:>7.1%}{r['wall_s']:>8.1f}{r['req_s']:>8.1f}"
              f"{r['tok_s']:>9.0f}{r['ttft_p50'] * 1000:>8.0f}ms{r['e2el_p50'] * 1000:>8.0f}ms"
              f"{r['e2el_p95'] * 1000:>8.0f}ms{ach:>10}")
    print("\n* = saturated: the harness could not send at the target rate")


if __name__ == "__main__":
    main()
