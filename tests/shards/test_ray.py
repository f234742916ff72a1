"""A 4-shard simulator run on a local Ray cluster through hydra-ray-launcher, a worker killed midway.

The test starts its own one-node cluster (`ray start --head`) listening on 127.0.0.1 only (checked),
without the dashboard or usage stats, in a temporary folder, and stops it at the end. The sweep's driver
connects to it (`hydra.launcher.ray.init.address`); each shard is a Ray task. Killing the worker
that runs a shard (SIGKILL, as a lost node would) makes Ray retry the task on a new worker, which
resumes the shard's run folder (resume=auto): every frame ends recorded exactly once, with the
same answers as an unsharded run.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bench.load import load_logical_run, load_run, shard_set
from bench.server_process import free_port

from ..conftest import ROOT
from ..test_e2e_sim import make_dataset, run_bench

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="hydra-ray-launcher is not installed: "
                    "pip install -e '.[ray]'")

FRAMES = 16


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT), "HOME": str(tmp / "home"),
                "RAY_TMPDIR": str(tmp),  # nothing in ~/ or /tmp/ray
                # Ray's single-machine mode (its default on macOS/Windows): the node's address is 127.0.0.1
                # and every Ray server (GCS, raylet, agents) listens there only, not on all interfaces.
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    return env


@pytest.fixture
def ray_cluster():
    tmp = Path(tempfile.mkdtemp(prefix="cbray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    (tmp / "home").mkdir()
    port, env = free_port(), _env(tmp)
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"
    start = subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                            "--num-cpus=4", "--include-dashboard=false", "--disable-usage-stats",
                            f"--temp-dir={tmp / 'r'}", "--object-store-memory=80000000"],
                           env=env, capture_output=True, text=True, timeout=120, cwd=tmp)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        assert _ray_listens_on_loopback_only(), "a Ray process listens beyond 127.0.0.1"
        yield f"127.0.0.1:{port}", env, tmp
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=60, cwd=tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _ray_listens_on_loopback_only() -> bool:
    """Every listening TCP socket of a Ray process (by /proc: the sockets of processes named ray/gcs_server/raylet
    or ray::*) is bound to 127.0.0.1."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("no `ss` to list listening sockets")
    out = subprocess.run([ss, "-ltnpH"], capture_output=True, text=True, timeout=30).stdout
    ray_lines = [line for line in out.splitlines() if any(n in line for n in ('"gcs_server"', '"raylet"', '"ray::'))]
    assert ray_lines, out
    return all(line.split()[3].rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]") for line in ray_lines)


def _kill_a_shard_midway(runs: Path, sweep: subprocess.Popen, deadline: float) -> Path:
    """SIGKILL the Ray worker running a shard once it has recorded 2 frames but not all of its frames."""
    while time.monotonic() < deadline and sweep.poll() is None:
        for run_dir in runs.glob("t/sim/*"):
            meta_path, gens = run_dir / "run.json", run_dir / "generations.jsonl"
            if not (meta_path.is_file() and gens.is_file()):
                continue
            done = gens.read_bytes().count(b"\n")
            todo = json.loads(meta_path.read_text())["shard"]["frames"]
            pid = (run_dir / ".lock").read_text().strip() if (run_dir / ".lock").is_file() else ""
            if 2 <= done < todo - 1 and pid.isdigit():
                os.kill(int(pid), signal.SIGKILL)
                return run_dir
        time.sleep(0.05)
    pytest.fail("no shard was caught midway (the sweep ended or timed out first)")


@pytest.mark.timeout(240)
def test_four_shards_on_ray_with_a_killed_worker_end_exactly_once(tmp_path, ray_cluster):
    address, env, _ = ray_cluster
    ds = make_dataset(tmp_path / "ds", FRAMES)
    common = [f"dataset.path={ds}", "dataset.name=t", "runner.progress=false", "runner.concurrency=1",
              "model.sim.ttft_s=0.25", "model.sim.ttft_jitter_s=0", "model.sim.per_token_s=0.0002"]
    # the unsharded answers, for comparison
    code, whole = run_bench(*common, f"runs_dir={tmp_path / 'whole'}", "model.sim.ttft_s=0.01")
    assert code == 0
    runs, sweep_dir = tmp_path / "runs", tmp_path / "sweep"
    started = time.monotonic()
    sweep = subprocess.Popen(
        [sys.executable, "-m", "bench", "-m", "hydra/launcher=ray_cluster",
         f"hydra.launcher.ray.init.address={address}", "dataset.shard=range(0,4)", "dataset.num_shards=4",
         *common, f"runs_dir={runs}", f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        killed = _kill_a_shard_midway(runs, sweep, started + 120)
        out, _ = sweep.communicate(timeout=150)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, out
    elapsed = time.monotonic() - started
    # the killed shard was resumed by Ray's retry: a second session, nothing recorded twice
    meta = json.loads((killed / "run.json").read_text())
    assert len(meta["sessions"]) == 2 and meta["status"] == "complete", meta["sessions"]
    assert not (killed / "generations.duplicates.jsonl").exists()
    # the sweep folder holds exactly one sharded run: every frame once, the unsharded run's answers
    shards = shard_set(sweep_dir)
    assert shards is not None and len(shards) == 4
    logical = load_logical_run(shards)
    assert sorted(r["frame_id"] for r in logical.records) == [f"f{i:03d}" for i in range(FRAMES)]
    assert {r["frame_id"]: r["text"] for r in logical.records} == \
        {r["frame_id"]: r["text"] for r in load_run(whole).records}
    m = logical.metrics
    assert (m["frames"], m["completed"], m["failed"], m["pending"]) == (FRAMES, FRAMES, 0, 0)
    assert m["validity"]["ladder"]["schema_valid"]["k"] == FRAMES
    assert elapsed < 120, f"the Ray sweep took {elapsed:.0f} s"
