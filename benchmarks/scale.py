"""Memory and time at scale: a run, its metrics and its scoring at 10k / 100k (/ 1M) frames.

    python benchmarks/scale.py                        # 10k and 100k frames
    python benchmarks/scale.py --sizes 10000 --no-score
    python benchmarks/scale.py --million              # adds 1M frames (hours on 2 cores: run it once)
    python benchmarks/scale.py --sizes 1000000 --kill-after 600   # 1M manifest, SIGKILL after 10 min, resume
    python benchmarks/scale.py --sizes 1000000 --faults 0.025 --sim-faults 0.025 --kill-after 300 200 400
    python benchmarks/scale.py --synthetic-from RUN_DIR --sizes 100000 1000000   # metrics + scoring only

Each size gets a manifest of N ids over a few of the sample's images (the simulator's references
come from a small separate manifest, so the simulator stays small), the fast simulator
(TTFT 0, 0 s/token, no jitter, 16 tokens a chunk as `vllm serve --stream-interval 16`) and
concurrency 64. Four stages, each its own process, as a user
runs them:
  run      `python -m bench` (run folder, generations.jsonl, metrics.json; no references: no scoring)
  metrics  the metrics recomputed from generations.jsonl (bench.app.metrics_for: the streaming pass)
  score    `python -m bench.score RUN_DIR` after the references are added to the manifest
  report   `python -m bench.report RUN_DIR --out ...` (HTML size and the Parquet beside it printed too)
Printed per stage: wall time, CPU time (user + sys of the stage and its children: what a busy machine does not
inflate), the peak RSS of the capbench process (VmHWM, which is exact) and of
the process tree (the simulator included; sampled every 0.2 s). Linux only (/proc).
With --kill-after S [S ...] the run is SIGKILLed after S seconds (each session after its own S) and the same
command resumed (exactly-once is checked: every frame recorded once). --faults breaks that share of the
manifest's lines; --sim-faults has the simulator fail that share of requests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "sample"
IMAGES = 4  # distinct images the N ids cycle over


def _sample_entries() -> list[dict]:
    lines = (SAMPLE / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()][:IMAGES]


def build_dataset(folder: Path, n: int, *, references: bool, faults: float = 0.0) -> Path:
    """manifest.jsonl of n ids over IMAGES sample images; refs.jsonl for the simulator. With faults, that
    share of lines is broken (not JSON), spread evenly: bad inputs the run must record once each."""
    entries = _sample_entries()
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for e in entries:
        link = folder / e["image"]
        if not link.exists():
            link.symlink_to(SAMPLE / e["image"])
    with (folder / "refs.jsonl").open("w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in entries)
    every = round(1 / faults) if faults else 0
    with (folder / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            e = entries[i % len(entries)]
            if every and i % every == every - 1:
                fh.write(f'{{"id": "broken-{i}", "image": \n')
                continue
            line = {"id": f"f{i:07d}", "image": e["image"], "content_type": e.get("content_type")}
            if references:
                line["reference"] = e["reference"]
            fh.write(json.dumps(line) + "\n")
    return folder


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], *, env: dict[str, str], kill_after: float | None = None) -> dict:
    """Run cmd; wall time, the capbench process's peak RSS (VmHWM) and the tree's sampled peak."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # CPU: what the machine's load does not inflate
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    own_peak = tree_peak = 0
    killed = False
    while proc.poll() is None:
        own_peak = max(own_peak, _status_kb(proc.pid, "VmHWM"))
        tree_peak = max(tree_peak, sum(_status_kb(p, "VmRSS") for p in _tree(proc.pid)))
        if kill_after is not None and time.perf_counter() - start > kill_after:
            for p in _tree(proc.pid):  # the whole tree, as a machine that dies would
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed = True
        time.sleep(0.2)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall_s": time.perf_counter() - start, "own_peak_mb": own_peak / 1024, "tree_peak_mb": tree_peak / 1024,
            "cpu_s": cpu, "code": proc.returncode, "killed": killed, "stderr_tail": err[-800:]}


METRICS_SCRIPT = """
import sys, json
from pathlib import Path
from omegaconf import OmegaConf
from bench.app import metrics_for
from bench.config import DatasetConfig
from bench.frames import load_frames
from bench.store import RunStore
run = Path(sys.argv[1])
cfg = OmegaConf.load(run / "config.yaml")
store = RunStore(path=run)
dataset = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DatasetConfig), cfg.dataset))
m = metrics_for(cfg, store, load_frames(dataset))
print(json.dumps({"recorded": m["recorded"], "completed": m["completed"], "bad": m["bad_inputs"]["count"]}))
"""


def run_size(n: int, base: Path, *, concurrency: int, score: bool, kill_after: list[float], faults: float,
             sim_faults: float, stream_interval: int, kill_only: bool = False, after_run: bool = False) -> list:
    runs = base / "runs"
    if after_run:  # the stages after the run, measured again on a kept run (--keep DIR --after-run)
        ds = base / f"ds{n}"
        (run_dir,) = (runs / f"scale{n}" / "sim").iterdir()
        return _after_run(n, ds, run_dir, score=score, faults=faults, base=base)
    ds = build_dataset(base / f"ds{n}", n, references=False, faults=faults)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bench", "model=sim", "dataset=sample", f"dataset.name=scale{n}",
           f"dataset.path={ds}", f"model.sim.references={ds / 'refs.jsonl'}", "model.sim.ttft_s=0",
           "model.sim.per_token_s=0", "model.sim.ttft_jitter_s=0", "model.sim.per_token_jitter_s=0",
           f"model.sim.stream_interval={stream_interval}",
           # the simulator's faults, a quarter each: retried (server errors, cut streams, 429s) or recorded invalid
           *[f"model.sim.{kind}_rate={sim_faults / 4:g}" for kind in ("server_error", "disconnect", "rate_limit",
                                                                       "malformed") if sim_faults],
           "model.sim.retry_after_s=0.05",
           f"runner.concurrency={concurrency}", "runner.progress=false", f"runs_dir={runs}",
           "hydra.run.dir=" + str(base / "hydra"), "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
    rows = []
    sessions = 0
    while True:
        sessions += 1
        r = measure(cmd, env=env, kill_after=kill_after[sessions - 1] if sessions <= len(kill_after) else None)
        rows.append((n, "run" if sessions == 1 else f"run (resume {sessions - 1})", r))
        if not r["killed"] or kill_only:
            break
    if kill_only:
        (run_dir,) = (runs / f"scale{n}" / "sim").iterdir()
        with (run_dir / "generations.jsonl").open("rb") as fh:
            done = sum(1 for _ in fh)
        rows.append((n, f"  {done} frames recorded before the kill (--kill-only: not resumed)", None))
        return rows
    (run_dir,) = (runs / f"scale{n}" / "sim").iterdir()
    lines = 0
    ids = set()
    with (run_dir / "generations.jsonl").open("rb") as fh:
        for line in fh:
            lines += 1
            ids.add(json.loads(line)["frame_id"])
    exact = lines == len(ids) == n
    rows.append((n, f"  recorded {lines} lines, {len(ids)} distinct frames of {n}: "
                    f"{'exactly once' if exact else 'NOT exactly once'}", None))
    return rows + _after_run(n, ds, run_dir, score=score, faults=faults, base=base)


def _after_run(n: int, ds: Path, run_dir: Path, *, score: bool, faults: float, base: Path) -> list:
    """metrics, score and report of a recorded run, each in its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    r = measure([sys.executable, "-c", METRICS_SCRIPT, str(run_dir)], env=env)
    rows.append((n, "metrics", r))
    if score:
        build_dataset(ds, n, references=True, faults=faults)  # same ids, now with references
        r = measure([sys.executable, "-m", "bench.score", str(run_dir)], env=env)
        rows.append((n, "score", r))
    out = base / f"report{n}.html"
    r = measure([sys.executable, "-m", "bench.report", str(run_dir), "--out", str(out)], env=env)
    rows.append((n, "report", r))
    if out.exists():
        parquet = out.with_suffix(".frames.parquet")
        rows.append((n, f"  report {out.stat().st_size / 1e6:.1f} MB HTML"
                        + (f", {parquet.stat().st_size / 1e6:.1f} MB Parquet beside it" if parquet.exists() else ""),
                     None))
    return rows


def synthetic_size(n: int, source: Path, base: Path, *, score: bool) -> list:
    """Metrics and scoring of an n-frame run made from a real run's records (cycled, new ids): the
    stages after the run, at sizes the run itself would take hours to reach on a small machine."""
    ds = build_dataset(base / f"syn-ds{n}", n, references=False)
    run_dir = base / f"syn-run{n}"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = (source / "config.yaml").read_text().splitlines()
    config = [f"  path: {ds}" if line.startswith("  path: ") else line for line in config]
    (run_dir / "config.yaml").write_text("\n".join(config) + "\n")
    meta = json.loads((source / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**meta, "status": "complete"}))
    lines = [line for line in (source / "generations.jsonl").read_bytes().splitlines() if line.strip()]
    with (run_dir / "generations.jsonl").open("wb") as fh:
        for i in range(n):
            rec = json.loads(lines[i % len(lines)])
            rec["frame_id"] = f"f{i:07d}"
            rec["content_type"] = _sample_entries()[i % IMAGES].get("content_type")
            for key in ("video", "shot", "timestamp_s"):  # the synthetic manifest's frames are stills
                rec.pop(key, None)
            fh.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = [(n, "metrics (synthetic run)", measure([sys.executable, "-c", METRICS_SCRIPT, str(run_dir)], env=env))]
    if score:
        build_dataset(ds, n, references=True)
        rows.append((n, "score (synthetic run)", measure([sys.executable, "-m", "bench.score", str(run_dir)],
                                                          env=env)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--million", action="store_true", help="add a 1M-frame size (long: run it once)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--stream-interval", type=int, default=16,
                    help="tokens per streamed chunk (vLLM's --stream-interval): 1 streams each of a caption's ~320 "
                         "tokens, which makes both ends' per-token work, not the frame count, the run's cost")
    ap.add_argument("--kill-after", type=float, nargs="+", default=[], metavar="S",
                    help="SIGKILL the first session after S s and resume; several: each session after its S")
    ap.add_argument("--kill-only", action="store_true", help="with --kill-after: measure the first session only")
    ap.add_argument("--faults", type=float, default=0.0, help="share of manifest lines broken (e.g. 0.05)")
    ap.add_argument("--sim-faults", type=float, default=0.0,
                    help="share of requests the simulator fails (server error, cut stream, 429, malformed JSON)")
    ap.add_argument("--synthetic-from", type=Path, default=None,
                    help="a run folder: measure metrics and scoring at each size on its records cycled to N frames "
                         "(no run)")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    ap.add_argument("--after-run", action="store_true",
                    help="with --keep DIR of an earlier call: measure metrics, score and report again on its runs")
    args = ap.parse_args()
    sizes = args.sizes + ([1_000_000] if args.million else [])
    with tempfile.TemporaryDirectory(prefix="capbench-scale-") as tmp:
        base = args.keep or Path(tmp)
        print(f"{'frames':>9} | {'stage':<22} | {'wall s':>8} | {'CPU s':>8} | {'peak RSS capbench MB':>20} | "
              f"{'peak RSS tree MB':>16}")
        for n in sizes:
            rows = synthetic_size(n, args.synthetic_from, base, score=not args.no_score) if args.synthetic_from \
                else run_size(n, base, concurrency=args.concurrency, score=not args.no_score,
                              kill_after=args.kill_after, faults=args.faults, sim_faults=args.sim_faults,
                              kill_only=args.kill_only, after_run=args.after_run,
                              stream_interval=args.stream_interval)
            for size, stage, r in rows:
                if r is None:
                    print(f"{size:>9} | {stage}")
                    continue
                note = "" if r["code"] in (0, None) or r["killed"] else f"  exit {r['code']}: {r['stderr_tail']}"
                note += "  (SIGKILLed)" if r["killed"] else ""
                print(f"{size:>9} | {stage:<22} | {r['wall_s']:>8.1f} | {r['cpu_s']:>8.1f} | "
                      f"{r['own_peak_mb']:>20.0f} | {r['tree_peak_mb']:>16.0f}{note}", flush=True)


if __name__ == "__main__":
    main()
