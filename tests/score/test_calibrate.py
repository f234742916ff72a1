"""Judge calibration: planted errors, and the simulator's judge with a planted blind spot detected as such."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.score.__main__ import compose_judge
from bench.score.calibrate import KINDS, calibrate, main, plant, print_calibration
from bench.sim.judge import ERROR_KINDS
from tests.conftest import SEED_CAPTION


def test_each_kind_plants_one_error_and_leaves_the_reference_alone() -> None:
    assert tuple(KINDS) == ERROR_KINDS  # the simulator's judge checks the same kinds (its blind knob names them)
    ref = json.loads(json.dumps(SEED_CAPTION))
    changed = {kind: {k for k in ref if plant(kind, ref)[k] != ref[k]} for kind in KINDS}  # type: ignore[index]
    assert changed == {"wrong_object": {"objects"}, "missing_object": {"objects"}, "wrong_count": {"objects"},
                       "wrong_content_type": {"content_type"}, "invented_logo": {"logos"},
                       "banned_lead_in": {"description"}, "fields_swapped": {"environment", "specific_style"}}
    assert ref == SEED_CAPTION
    counted = plant("wrong_count", {**ref, "description": "Two dogs run on 3 paths."})
    assert counted is not None and counted["description"] == "four dogs run on 3 paths."
    assert plant("missing_object", {**ref, "objects": ["one"]}) is None  # not applicable: skipped for that frame


def test_planted_blind_spot_is_detected(tmp_path: Path) -> None:
    judge = compose_judge("sim_v2", ["judge.model.sim.judge_blind=[invented_logo]"])
    c = calibrate(judge, limit=4, judge_cache=tmp_path / "c.sqlite", log_dir=tmp_path)
    kinds = c["kinds"]
    assert c["judge"]["simulated"] and c["frames"] == 4 and c["judge"]["requests_sent"] > 0
    assert kinds["invented_logo"]["blind_spot"] and kinds["invented_logo"]["single"]["rate"] == 0
    assert kinds["invented_logo"]["pairwise"]["rate"] == 0
    for kind in ("wrong_object", "wrong_count", "wrong_content_type", "banned_lead_in", "fields_swapped"):
        assert kinds[kind]["single"]["rate"] == 1 and kinds[kind]["pairwise"]["rate"] == 1, kind
        assert not kinds[kind]["blind_spot"]
    console = Console(file=io.StringIO(), width=200)
    print_calibration(console, c)
    text = console.file.getvalue()
    assert "SIMULATED judge" in text and text.count("BLIND SPOT") == 1
    # the same judge without the blind spot notices invented logos
    seeing = calibrate(compose_judge("sim_v2", []), limit=4, judge_cache=tmp_path / "c.sqlite", log_dir=tmp_path)
    logo = seeing["kinds"]["invented_logo"]
    assert logo["single"]["rate"] == 1 and not logo["blind_spot"]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal.json"
    assert main(["judge=sim_v2", f"judge.cache={tmp_path / 'c.sqlite'}", "limit=2", f"out={out}"]) == 0
    assert json.loads(out.read_text())["frames"] == 2 and "judge sensitivity" in capsys.readouterr().out
    assert main(["judge=sim_v2", "nonsense"]) == 2
    assert main(["judge=sim_v2", f"dataset={tmp_path}"]) == 2  # no manifest: named, not a traceback
