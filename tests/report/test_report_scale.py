"""Reports that scale (issue 12 item 4): beyond a threshold the explorer embeds the failed and disputed frames and
a stratified sample, says so, and every frame is in the Parquet file beside the HTML; records are streamed, not
loaded; script_json escapes with chained replace, byte for byte as str.translate did."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.load import FIELDS, load_run_data, load_runs
from bench.report import build_report
from bench.report.__main__ import main as report_main
from bench.report.data import assemble
from bench.report.render import script_json
from bench.report.sample import OUTCOMES, allocate, frame_flags, select_frames, stratified
from bench.report.stream import CATEGORICAL, REPORT_COLUMNS, RunFrames, concat_columns, frame_table, iter_records
from bench.store import load_records
from tests.report.cdp import keep_screenshot
from tests.report.simruns import write_scores

# the escaping as it was (str.translate over the whole payload): the reference the faster code must equal
TRANSLATE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}
READY = "document.body && document.body.getAttribute('data-ready') === '1'"


def _translated(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).translate(TRANSLATE)


# ---- script_json ------------------------------------------------------------------------------------
def test_script_json_is_identical_to_translate():
    hostile = ["</script><script>alert(1)</script>", "<!--", "-->", "<!-- <script>", "a & b &amp; c",
               "line\u2028sep\u2029para", "</SCRIPT >", "é ü 漢字 🙂", "\\u003c already escaped", "<>&\u2028\u2029"]
    rng = random.Random(7)
    alphabet = list("<>&/!-\\\"' ascriptSCRIPT\u2028\u2029\n\té漢🙂{}[]:,")
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(2000)]
    for value in [*hostile, fuzz, {"k<": hostile, "nested": [{"x&": s} for s in fuzz[:50]]}]:
        got = str(script_json(value))
        assert got == _translated(value)
        assert not any(c in got for c in "<>&\u2028\u2029")
        assert json.loads(got) == value  # the page's JSON.parse reads the same value back


# ---- streaming --------------------------------------------------------------------------------------
def test_iter_records_reads_like_load_records(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps({"frame_id": "a", "n": 1}), "not json", json.dumps({"frame_id": "b", "n": 2}),
             json.dumps({"frame_id": "a", "n": 3}), json.dumps(["a list"]), json.dumps({"frame_id": 5}),
             json.dumps({"frame_id": "c", "n": 4}),
             '{"frame_id": "d", "x": NaN, "big": 123456789012345678901234567890}']
    raw = "\n".join(lines) + "\n" + json.dumps({"frame_id": "torn"})  # no newline: torn by a kill
    (run / "generations.jsonl").write_text(raw)
    streamed = [rec for _, rec in iter_records(run / "generations.jsonl")]
    assert streamed[:3] == load_records(run)[:3] == [{"frame_id": "a", "n": 1}, {"frame_id": "b", "n": 2},
                                                     {"frame_id": "c", "n": 4}]
    nan = streamed[3]  # what orjson refuses (NaN, a huge integer) is read as json reads it
    assert len(streamed) == len(load_records(run)) == 4 and nan["x"] != nan["x"]
    assert nan["big"] == load_records(run)[3]["big"] == 123456789012345678901234567890
    offsets = [off for off, _ in iter_records(run / "generations.jsonl")]
    assert [json.loads(raw.encode()[o:].split(b"\n", 1)[0]) for o in offsets] == streamed


def test_streamed_table_equals_bench_load_frames(sim_runs, tmp_path):
    a = shutil.copytree(sim_runs["sim_noisy"], tmp_path / "a")
    write_scores(a, judge_mean=3.0, rouge_mean=50, seed=3)
    expected = load_runs([a], level="frame").set_index("frame_id")
    lite = load_run_data([a], records=False)[0]
    assert lite.records == [] and lite.scores_path is not None
    source = RunFrames(lite)
    table = frame_table(source, "sim_noisy").set_index("frame_id")
    assert len(table) == len(expected) == 27 and table["_off"].is_unique
    assert {c: str(table[c].dtype) for c in CATEGORICAL} == {c: "category" for c in CATEGORICAL}
    cols = [c for c in REPORT_COLUMNS if c != "frame_id"]
    streamed = table[cols].astype({c: "str" for c in CATEGORICAL})
    pd.testing.assert_frame_equal(streamed.sort_index(), expected[cols].sort_index(), check_dtype=False)
    # the per-field ROUGE-L means kept as running sums: the columns' means over the whole run
    means = source.field_means()
    assert means.keys() == set(FIELDS) and any(v is not None for v in means.values())
    for field, mean in means.items():
        col = expected[f"rougeL.{field}"]
        assert (mean is None) == col.isna().all()
        if mean is not None:
            assert mean == pytest.approx(col.mean(), rel=1e-12)


# ---- sampling rules ---------------------------------------------------------------------------------
def test_allocate_is_proportional_with_one_place_per_stratum():
    assert allocate([600, 300, 100], 10) == [6, 3, 1]
    assert allocate([970, 20, 10], 10) == [8, 1, 1]  # small strata keep one place each
    assert sum(allocate([5, 7, 11, 13], 9)) == 9
    assert allocate([3, 4], 100) == [3, 4]
    assert allocate([5, 5, 5], 2) in ([1, 1, 0], [1, 0, 1], [0, 1, 1])


def _table(n: int, fail_every: int, ct_every: int) -> pd.DataFrame:
    rows = []
    for run in ("a", "b"):
        for i in range(n):
            cat = "not_json" if run == "b" and i % fail_every == 0 else "valid"
            rows.append({"run": run, "key": f"f{i:04d}", "content_type": "cartoon" if i % ct_every == 0 else "real",
                         "category": cat, "judge_score": 4.0 if run == "a" or i != 7 else 1.0})
    return pd.DataFrame(rows)


def test_select_frames_embeds_failed_and_disputed_plus_a_stratified_sample():
    flags = frame_flags(_table(1000, fail_every=50, ct_every=10), "judge")
    assert int(flags["failed"].sum()) == 20 and bool(flags.at["f0007", "disputed"])  # judge 4 vs 1
    sel = select_frames(flags, max_frames=100, seed=0, metric="judge")
    keys = set(sel.keys)
    assert len(keys) == 100 and sel.info["embedded"] == 100 and sel.info["sampled"]
    assert set(flags.index[flags["failed"] | flags["disputed"]]) <= keys
    assert sel.why["f0000"] == "failed" and sel.why["f0007"] == "disputed"
    sample = [k for k, w in sel.why.items() if w == "sample"]
    assert len(sample) == 79 and sel.info["sample"] == 79 and sel.info["others"] == 979
    cartoon = sum(flags.at[k, "ct"] == "cartoon" for k in sample)
    assert abs(cartoon - 79 * 79 / 979) <= 1  # proportional to the stratum (79 of the 979 others are cartoons)
    assert sel.keys == sorted(sel.keys)  # dataset order
    assert select_frames(flags, 100, seed=0, metric="judge").keys == sel.keys  # the seed fixes the sample
    assert select_frames(flags, 100, seed=1, metric="judge").keys != sel.keys
    assert select_frames(flags, 1000, metric="judge").info["sampled"] is False


def _flags_by_groupby(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """frame_flags as a plain pandas groupby over the keys (the reference the numpy version must equal)."""
    g = table.assign(_valid=table["category"].eq("valid")).groupby("key", sort=False)
    out = pd.DataFrame({"ct": g["content_type"].first(), "n_valid": g["_valid"].sum(), "n": g["_valid"].size()})
    out["failed"] = out["n_valid"] < out["n"]
    out["outcome"] = np.where(~out["failed"], OUTCOMES[0], np.where(out["n_valid"] > 0, OUTCOMES[1], OUTCOMES[2]))
    q = table.groupby("key", sort=False)[{"judge": "judge_score", "rougeL": "rougeL"}[metric]]
    out["gap"] = (q.max() - q.min()).where(q.count() >= 2).reindex(out.index).fillna(0.0)
    return out


def test_frame_flags_follow_the_order_given_as_a_sorted_copy_would():
    rng = np.random.default_rng(5)
    rows = []
    for run in range(3):  # runs over overlapping subsets of 300 frames, recorded out of dataset order
        for pos in rng.permutation(300)[: 200 + 40 * run]:
            rows.append({"key": f"k{pos:03d}", "_run": run, "_pos": int(pos), "content_type": "ab"[pos % 2],
                         "category": "valid" if rng.random() > 0.2 else "not_json",
                         "rougeL": float(rng.uniform(0, 100)) if rng.random() > 0.1 else np.nan})
    table = pd.DataFrame(rows)
    table["content_type"] = table["content_type"].astype("category")
    order = np.lexsort((table["_pos"].to_numpy(), table["_run"].to_numpy()))
    got = frame_flags(table, "rougeL", order=order)
    expected = _flags_by_groupby(table.iloc[order], "rougeL")
    assert got.index.tolist() == expected.index.tolist()  # the first run's frames in dataset order, then the rest
    assert got["ct"].astype(str).tolist() == expected["ct"].tolist()
    for col in ("n_valid", "n", "failed", "gap"):
        assert got[col].tolist() == pytest.approx(expected[col].tolist()), col
    assert got["outcome"].astype(str).tolist() == expected["outcome"].tolist()
    assert got["disputed"].tolist() == (expected["gap"] >= 30).tolist() and got["disputed"].any()
    # without an order: the table's own
    pd.testing.assert_frame_equal(frame_flags(table.iloc[order].reset_index(drop=True), "rougeL"), got)


def test_too_many_failures_are_sampled_too_and_stay_within_the_budget():
    flags = frame_flags(_table(1000, fail_every=2, ct_every=3), "schema_valid")
    sel = select_frames(flags, max_frames=40, seed=0)
    assert len(sel.keys) == 40 and sel.info["flagged_sampled"] and sel.info["flagged"] == 500
    assert sel.info["flagged_embedded"] == 30 and sel.info["sample"] == 10  # a quarter stays for the others
    strata = {(s["content_type"], s["outcome"]) for s in sel.info["flagged_strata"]}
    assert strata == {("cartoon", OUTCOMES[1]), ("real", OUTCOMES[1])}
    rng = np.random.default_rng(0)
    picked, _ = stratified(flags[~flags["failed"]], 10, rng)
    assert len(picked) == 10 and len(set(picked)) == 10


# ---- a report over the threshold --------------------------------------------------------------------
def _disputed_pair(sim_runs, root: Path) -> tuple[Path, Path, str]:
    """sim_noisy (failures) and sim, judged alike except one frame both answered validly, 4 vs 1."""
    a = shutil.copytree(sim_runs["sim_noisy"], root / "noisy")
    b = shutil.copytree(sim_runs["sim"], root / "sim")
    valid_a = {r["frame_id"] for r in load_records(a) if r["validity"].get("schema_valid")}
    disputed = sorted(valid_a)[3]
    for run in (a, b):
        rows = [{"frame_id": r["frame_id"], "valid": bool(r["validity"].get("schema_valid")), "overlap": None,
                 "reference": {"kind": "dataset", "source": "sample", "id": "dataset:sample"},
                 "judge": {"score": 1.0 if (run == b and r["frame_id"] == disputed) else 4.0, "scores": [4.0],
                           "rationale": "ok", "failure": None, "cached": False, "hallucinated": {}, "missed": {}}
                 if r["validity"].get("schema_valid") else None} for r in load_records(run)]
        (run / "scores.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    return a, b, disputed


def test_report_over_the_threshold_embeds_failed_disputed_and_a_sample(sim_runs, tmp_path):
    a, b, disputed = _disputed_pair(sim_runs, tmp_path)
    failed = {r["frame_id"] for r in load_records(a) if r["validity"]["category"] != "valid"}
    assert 0 < len(failed) <= 8  # with the disputed frame, within the 9 places (12 - 12 // 4) they may take
    out = tmp_path / "rep" / "report.html"
    info = build_report([a, b], out, max_embedded_frames=12, sample_seed=3, thumbnails=False)
    data = info["data"]
    ex = data["explorer"]
    keys = {f["id"] for f in data["frames"]}
    assert ex["sampled"] and ex["total"] == 27 and ex["embedded"] == len(keys) == 12 and ex["seed"] == 3
    assert failed | {disputed} <= keys  # every failed or disputed frame is in the explorer
    assert {f["id"]: f.get("why") for f in data["frames"]}[disputed] == "disputed"
    assert ex["sample"] == 12 - len(failed) - 1 and ex["failed"] == len(failed) and ex["disputed"] == 1
    html = out.read_text()
    assert "its explorer holds 12 of them" in html and "seed 3" in html and "report.frames.parquet" in html
    assert f"all {len(failed) + 1:,} frames that failed for some run" in html

    # every frame of every run is in the Parquet file beside it, with its caption
    assert info["parquet"] == out.with_name("report.frames.parquet")
    frames = pd.read_parquet(info["parquet"])
    assert len(frames) == 54 and frames.groupby("run").size().to_dict() == {"sim_noisy": 27, "sim": 27}
    assert set(frames["frame_id"]) == {r["frame_id"] for r in load_records(a)}
    valid = frames[frames["schema_valid"]]
    assert valid["caption"].map(lambda c: isinstance(json.loads(c), dict)).all()
    assert frames.loc[(frames["run"] == "sim") & (frames["frame_id"] == disputed), "judge_score"].item() == 1.0
    assert set(frames.loc[frames["category"] != "valid", "frame_id"]) == failed
    assert not list(out.parent.glob(".*.tmp"))  # the file appears whole


def test_report_under_the_threshold_embeds_every_frame(sim_runs, tmp_path):
    out = tmp_path / "r.html"
    info = build_report([sim_runs["sim"], sim_runs["sim_noisy"]], out, thumbnails=False)
    ex = info["data"]["explorer"]
    assert ex["sampled"] is False and ex["embedded"] == ex["total"] == info["frames"] == 27
    assert all("why" not in f for f in info["data"]["frames"])
    assert 'id="sampling"' not in out.read_text()
    assert len(pd.read_parquet(info["parquet"])) == 54


def test_cli_threshold_and_page_size_budget(sim_runs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cli.html"
    assert report_main([str(sim_runs["sim"]), str(sim_runs["sim_noisy"]), "--out", str(out), "--no-thumbnails",
                        "--max-embedded-frames", "5", "--sample-seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "27 frames, 5 in the explorer" in text and "cli.frames.parquet" in text and "seed 1" in text
    assert report_main([str(sim_runs["sim"]), "--max-embedded-frames", "0"]) == 2
    # a page whose frames would not fit gets fewer places, and says so
    monkeypatch.setattr("bench.report.data.FRAMES_BYTES_BUDGET", 30_000)
    data = assemble(load_run_data([sim_runs["sim"], sim_runs["sim_noisy"]], records=False), thumbnails=False)
    ex = data["explorer"]
    size = sum(len(json.dumps(f, separators=(",", ":"))) for f in data["frames"])
    assert ex["size_limited"] and ex["embedded"] < 27 and size <= 30_000
    assert "fewer than the 1,000 asked for" in ex["text"]


@pytest.mark.parametrize("width", [1280])
def test_sampled_explorer_in_chromium(sim_runs, browser, tmp_path, width):
    a, b, disputed = _disputed_pair(sim_runs, tmp_path)
    out = tmp_path / "sampled.html"
    build_report([a, b], out, max_embedded_frames=12)
    browser.open(out.as_uri(), ready=READY)
    assert browser.errors() == []
    state = browser.evaluate("""(() => ({
      note: document.getElementById('sampling').innerText,
      link: document.querySelector('#sampling a[download]').getAttribute('href'),
      count: document.getElementById('f-count').textContent,
      cards: document.querySelectorAll('#frames .frame').length,
      why: Array.from(document.querySelectorAll('#frames .badge.why')).map(b => b.textContent),
    }))()""")
    assert "holds 12 of them" in state["note"] and "stratified sample" in state["note"]
    assert state["link"] == "sampled.frames.parquet"
    assert state["count"] == "12 of 12 frames embedded (of 27 in the runs)" and state["cards"] == 12
    assert "embedded: runs disagree" in state["why"] and "embedded: failed for some run" in state["why"]
    browser.evaluate("document.querySelector('#sampling details').open = true; "
                     "document.getElementById('explorer').scrollIntoView()")
    keep_screenshot(browser.screenshot(tmp_path / "explorer-sampled.png", full_page=False))


def test_concat_columns_equals_pd_concat_and_empties_the_parts():
    frames = [pd.DataFrame({"frame_id": pd.array([f"f{i}", f"g{i}"], dtype="str"), "e2el_s": [0.1 * i, None],
                            "ok": [True, False], "video": [None, "v.mp4"]}) for i in range(3)]
    expected = pd.concat(frames, ignore_index=True)
    parts = [{col: f[col].copy() for col in f.columns} for f in frames]
    got = concat_columns(parts)
    pd.testing.assert_frame_equal(got, expected)
    assert parts == []


def test_concat_columns_keeps_categoricals_with_differing_categories_one_categorical():
    pieces = [pd.Series(["real", "cartoon"], dtype="category"), pd.Series(["anime", "real", None], dtype="category")]
    got = concat_columns([{"content_type": p} for p in pieces])["content_type"]
    assert isinstance(got.dtype, pd.CategoricalDtype)  # pd.concat made it a column of objects
    assert got.tolist()[:4] == ["real", "cartoon", "anime", "real"] and pd.isna(got.iloc[4])
    assert set(got.cat.categories) == {"real", "cartoon", "anime"}
