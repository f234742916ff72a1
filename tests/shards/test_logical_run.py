"""A set of shard runs read as one run (bench.shards), merged (bench.merge), gated, reported, loaded."""

import json
import shutil

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.app import run
from bench.gate.inputs import GateInputError
from bench.gate.verify import load_checked_side
from bench.load import RunLoadError as ShardSetError
from bench.load import load_logical_run, load_run, load_runs
from bench.merge import main as merge_main
from bench.shards import _merged_spans

from ..conftest import ROOT
from ..test_e2e_sim import make_dataset, overrides


def _run(tmp_path, ds, *extra):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(tmp_path, ds, *extra))
    return run(cfg, summary=False)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The same 20 frames run whole and as 3 shards."""
    tmp = tmp_path_factory.mktemp("sharded")
    ds = make_dataset(tmp / "ds", 20)
    assert _run(tmp / "whole", ds) == 0
    for k in range(3):
        assert _run(tmp / "sh", ds, f"dataset.shard={k}", "dataset.num_shards=3") == 0
    whole = next((tmp / "whole/runs/t/sim").iterdir())
    shards = sorted((tmp / "sh/runs/t/sim").iterdir())
    return tmp, ds, whole, shards


def test_each_shard_has_its_own_folder_and_frames(sharded):
    _, _, _, shards = sharded
    assert [d.name.split("_", 1)[1] for d in shards] == ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]
    infos = [json.loads((d / "run.json").read_text())["shard"] for d in shards]
    assert {i["group"] for i in infos} == {infos[0]["group"]} and [i["index"] for i in infos] == [0, 1, 2]
    assert sum(i["frames"] for i in infos) == 20 and all(i["dataset_frames"] == 20 for i in infos)
    ids = [{r["frame_id"] for r in load_run(d).records} for d in shards]
    assert all(len(a & b) == 0 for i, a in enumerate(ids) for b in ids[i + 1:])


def test_logical_run_has_every_frame_once_and_the_whole_runs_answers(sharded):
    _, _, whole, shards = sharded
    logical = load_logical_run(shards)
    single = load_run(whole)
    assert sorted(r["frame_id"] for r in logical.records) == sorted(r["frame_id"] for r in single.records)
    assert {r["frame_id"]: r["text"] for r in logical.records} == {r["frame_id"]: r["text"] for r in single.records}
    m = logical.metrics
    assert (m["frames"], m["recorded"], m["completed"], m["pending"]) == (20, 20, 20, 0)
    assert m["validity"]["ladder"] == single.metrics["validity"]["ladder"]
    assert m["mean_output_tokens"] == single.metrics["mean_output_tokens"]
    # latency over all records: the union of the shards' e2el values
    e2el = sorted(r["timing"]["e2el_s"] for r in logical.records)
    assert m["latency"]["e2el_s"]["max"] == pytest.approx(e2el[-1])
    # throughput over the union of the shards' time spans (these shards ran one after another: the sum)
    spans = [load_run(d).metrics["throughput"]["wall_duration_s"] for d in shards]
    assert m["throughput"]["wall_duration_s"] == pytest.approx(sum(spans))
    assert m["requests_per_s"] == pytest.approx(20 / sum(spans))
    assert logical.meta["status"] == "complete" and len(logical.meta["merged_from"]) == 3


def test_time_spans_are_unioned_not_summed():
    def rec(start, end, session=1):
        return {"t_scheduled": start, "t_last_token": end, "session": session}
    # shard 0 runs 0-10, shard 1 runs 5-12 at the same time, then shard 1 is resumed 20-25 (session 2)
    tagged = [(0, rec(0, 4)), (0, rec(3, 10)), (1, rec(5, 12)), (1, rec(20, 25, 2))]
    assert _merged_spans(tagged) == [(0, 12), (20, 25)]


def test_sets_that_lose_or_repeat_frames_are_refused(sharded, tmp_path):
    _, _, whole, shards = sharded
    with pytest.raises(ShardSetError, match=r"shard\(s\) 1 of 3 missing.*dataset.shard=1"):
        load_logical_run([shards[0], shards[2]])
    copy = tmp_path / "copy"
    shutil.copytree(shards[0], copy)
    with pytest.raises(ShardSetError, match="shard 0 of 3 is given twice"):
        load_logical_run([*shards, copy])
    with pytest.raises(ShardSetError, match="not a shard run"):
        load_logical_run([*shards, whole])
    # a frame recorded by two shards (e.g. a hand-edited folder) is refused by name
    bad = tmp_path / "bad"
    shutil.copytree(shards[1], bad)
    line = (shards[0] / "generations.jsonl").read_text().splitlines()[0]
    with (bad / "generations.jsonl").open("a") as fh:
        fh.write(line + "\n")
    with pytest.raises(ShardSetError, match=f"frame '{json.loads(line)['frame_id']}' is recorded by two shards"):
        load_logical_run([shards[0], bad, shards[2]])


def test_shards_of_different_configs_are_not_one_run(sharded, tmp_path):
    _, ds, _, shards = sharded
    assert _run(tmp_path, ds, "dataset.shard=1", "dataset.num_shards=3", "runner.concurrency=2") == 0
    (other,) = (tmp_path / "runs/t/sim").iterdir()
    with pytest.raises(ShardSetError, match="differ in group"):
        load_logical_run([shards[0], other, shards[2]])


def test_a_bad_shard_spec_stops_before_anything_runs(tmp_path):
    ds = make_dataset(tmp_path / "ds", 3)
    assert _run(tmp_path, ds, "dataset.shard=3", "dataset.num_shards=3") == 2
    assert _run(tmp_path, ds, "dataset.num_shards=3") == 2
    assert not (tmp_path / "runs").exists()


def test_merge_writes_an_ordinary_run_the_gate_verifies(sharded, tmp_path, capsys):
    _, _, whole, shards = sharded
    out = tmp_path / "merged"
    assert merge_main([str(d) for d in shards] + ["--out", str(out)]) == 0
    assert "20/20 frames" in capsys.readouterr().out
    merged = load_run(out)
    assert len(merged.records) == 20 and "shard" not in merged.meta
    assert merged.config["dataset"]["num_shards"] == 1 and merged.config["dataset"]["shard"] is None
    side = load_checked_side(out)  # the gate recomputes metrics.json from generations.jsonl: they agree
    assert side.frames == 20
    # the same from the shards directly, and from the folder holding them
    assert load_checked_side([str(d) for d in shards]).validity == side.validity
    assert load_checked_side(shards[0].parent).e2el_p95_s == side.e2el_p95_s
    assert merge_main([str(d) for d in shards] + ["--out", str(out)]) == 2  # never over a run
    assert merge_main([str(shards[0]), "--out", str(tmp_path / "m2")]) == 2  # shards 1, 2 missing
    assert "missing" in capsys.readouterr().err


def test_gate_refuses_a_shard_whose_metrics_disagree_with_its_records(sharded, tmp_path):
    _, _, _, shards = sharded
    bad = tmp_path / "bad"
    shutil.copytree(shards[2], bad)
    metrics = json.loads((bad / "metrics.json").read_text())
    metrics["completed"] += 1
    (bad / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(GateInputError, match="disagrees with generations.jsonl"):
        load_checked_side([shards[0], shards[1], bad])


def test_load_runs_and_report_show_one_run(sharded, tmp_path):
    _, _, whole, shards = sharded
    df = load_runs([whole, *shards])
    assert len(df) == 2 and sorted(df["frames"]) == [20, 20] and sorted(df["completed"]) == [20, 20]
    from bench.report.__main__ import main as report_main

    out = tmp_path / "r.html"
    assert report_main([str(d) for d in shards] + ["--out", str(out)]) == 0
    html = out.read_text()
    assert "shards-3-" in html  # the logical run's name


def test_scores_of_the_shards_are_one_scoring(tmp_path):
    # The sample's hand-written references: each shard is scored after its run; the set is scored as one.
    for k in range(2):
        assert _run(tmp_path, ROOT / "datasets/sample", "dataset.limit=8",
                    f"dataset.shard={k}", "dataset.num_shards=2") == 0
    shards = sorted((tmp_path / "runs/t/sim").iterdir())
    logical = load_logical_run(shards)
    assert len(logical.scores) == 8 and logical.scoring["reference_id"] == "dataset:t"
    rows = [load_run(d) for d in shards]
    per_frame = [s["overlap"]["rougeL"] for r in rows for s in r.scores.values()]
    df = load_runs(shards)
    assert df["rougeL"].iloc[0] == pytest.approx(sum(per_frame) / len(per_frame))


def test_gate_cli_takes_the_shard_folders_as_one_run(sharded, tmp_path, capsys):
    from bench.gate.__main__ import main as gate_main

    _, _, whole, shards = sharded
    baseline = tmp_path / "b.json"
    assert gate_main([*map(str, shards), "--write-baseline", str(baseline)]) == 0
    assert json.loads(baseline.read_text())["frames"] == 20
    assert gate_main([*map(str, shards), "--baseline", str(whole), "--junit", str(tmp_path / "j.xml")]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert gate_main([str(whole), str(shards[0]), "--baseline", str(whole)]) == 2  # not one run
    assert gate_main([str(shards[0]), str(shards[1]), "--baseline", str(whole)]) == 2  # shard 2 missing
    assert "missing" in capsys.readouterr().err


def test_score_cli_scores_every_shard_of_a_folder(tmp_path, capsys):
    from bench.score.__main__ import main as score_main

    for k in range(2):
        assert _run(tmp_path, ROOT / "datasets/sample", "dataset.limit=6", f"dataset.shard={k}",
                    "dataset.num_shards=2") == 0
    parent = tmp_path / "runs/t/sim"
    for d in parent.iterdir():
        shutil.rmtree(d / "scores")
    capsys.readouterr()
    assert score_main([str(parent)]) == 0
    assert all((d / "scores" / "index.json").is_file() for d in parent.iterdir())
    assert len(load_logical_run(sorted(parent.iterdir())).scores) == 6
