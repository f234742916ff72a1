"""Issue 9: bad inputs are reported apart, not counted against the model; a file name that is not
UTF-8 does not stop the run. End to end on the embedded simulator (127.0.0.1)."""

import json
import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from PIL import Image

from bench.__main__ import conf_dir
from bench.app import run
from bench.config import register
from bench.store import load_records

register()


def _folder(root: Path) -> Path:
    root.mkdir()
    for i in range(5):
        Image.new("RGB", (96, 64), (40 * i, 90, 200 - 30 * i)).save(root / f"good{i}.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    # a corrupt image whose name is not UTF-8 (the byte 0xE9): this crashed writing its error record
    (root / os.fsdecode(b"caf\xe9.png")).write_bytes(b"")
    return root


def test_bad_inputs_are_reported_apart_and_rates_are_over_frames_sent(tmp_path, capsys):
    folder = _folder(tmp_path / "imgs")
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "dataset=folder", f"dataset.path={folder}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
            "runner.progress=false", "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002"])
    assert run(cfg) == 0
    (run_dir,) = sorted((tmp_path / "runs").glob("t/*/*"))
    records = load_records(run_dir)
    assert len(records) == 7  # every frame recorded once: the bad ones as bad inputs
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["frames"] == 7 and m["sent"] == 5 and m["completed"] == 5 and m["failed"] == 0
    bad = {b["frame_id"]: b["reason"] for b in m["bad_inputs"]["frames"]}
    assert m["bad_inputs"]["count"] == 2 and "broken.jpg" in bad
    (odd_id,) = set(bad) - {"broken.jpg"}
    assert "caf\\xe9.png" in bad[odd_id] and "0 bytes" in bad[odd_id]
    # the model answered all 5 frames it was sent; the all-frames view is kept apart
    assert m["validity"]["ladder"]["schema_valid"]["n"] == 5 and m["schema_valid_rate"] == 1.0
    assert m["validity"]["ladder_all_frames"]["schema_valid"]["n"] == 7
    assert m["schema_valid_rate_all_frames"] == 5 / 7
    out = " ".join(capsys.readouterr().out.split())
    assert "2 bad inputs (not sent)" in out and "broken.jpg" in out and "caf\\xe9.png" in out
    assert "100.0%" in out and "(5/5)" in out and "71.4%" in out  # 71.4% only on the all-frames row

    # consumers read the model's rate: load_runs and the gate
    from bench import load_runs
    from bench.gate.inputs import from_run
    from bench.load import load_run

    row = load_runs([run_dir]).iloc[0]
    assert row["schema_valid_rate"] == 1.0 and row["bad_inputs"] == 2
    assert row["schema_valid_rate_all_frames"] == 5 / 7
    side = from_run(load_run(run_dir))
    assert side.validity["schema_valid"] == {"k": 5, "n": 5}
    assert len(side.frame_values("schema_valid")) == 5
