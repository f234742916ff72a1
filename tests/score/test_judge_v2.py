"""Rubric v2: reasoning first, score derived from the listed errors, reference-guided by default; never sharing
cached verdicts with v1; the simulator's judge answers it (and v1 keeps working)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from omegaconf import OmegaConf

from bench.config import JudgeConfig
from bench.score import score_run
from bench.score.__main__ import compose_judge
from bench.score.cache import cache_key
from bench.score.judge import EncodeSettings, Judge, JudgeItem, render_prompt, rubric_id
from bench.sim.judge import derived_score, errors
from tests.conftest import SEED_CAPTION
from tests.score.conftest import make_run, reference_for


def typed(name: str) -> JudgeConfig:
    return OmegaConf.to_object(compose_judge(name, []))  # type: ignore[return-value]


def test_v2_is_a_new_rubric_version_and_never_shares_cache_keys_with_v1(tmp_path: Path) -> None:
    v1, v2 = typed("sim"), typed("sim_v2")
    assert v1.rubric.version == "1" and v2.rubric.version == "2"
    assert rubric_id(v1) != rubric_id(v2)
    item = JudgeItem("f0", None, "abc", json.dumps(SEED_CAPTION), json.dumps(SEED_CAPTION))
    from bench.score.cache import JudgeCache

    with JudgeCache(tmp_path / "c.sqlite") as cache:
        keys = [cache_key(Judge(cfg, cache=cache, encode=EncodeSettings(1024, 90, 1), log_dir=tmp_path)._parts(item, 0))
                for cfg in (v1, v2)]
    assert keys[0] != keys[1]


def test_v2_prompt_asks_for_errors_before_the_score_and_shows_the_reference_whenever_there_is_one() -> None:
    v2 = typed("sim_v2")
    assert v2.with_reference is False and v2.rubric.reference_by_default is True
    text = render_prompt(v2, "{CAND}", "{REF}")
    assert "{REF}" in text and "image is the authority" in text
    answer_format = text[text.index("Answer with ONLY"):]
    assert answer_format.index('"hallucinated"') < answer_format.index('"rationale"') < answer_format.index('"score"')
    no_ref = render_prompt(v2, "{CAND}", None)
    assert "<reference>" not in no_ref and "{{" not in no_ref  # a frame without a reference: the image alone
    v1 = typed("sim")  # v1 unchanged: the reference only when asked for
    assert "<reference>" not in render_prompt(v1, "{CAND}", "{REF}")


def test_simulated_v2_errors_and_derived_score() -> None:
    truth = copy.deepcopy(SEED_CAPTION)
    assert errors(truth, truth) == ({}, {}) and derived_score({}, {}) == 5
    wrong = {**truth, "objects": ["Giraffe", *truth["objects"][1:]], "logos": ["Coca-Cola"],
             "content_type": "animation"}
    hallucinated, missed = errors(wrong, truth)
    assert hallucinated["objects"] == ["Giraffe"] and hallucinated["logos"] == ["Coca-Cola"]
    assert hallucinated["content_type"] == ["animation"] and missed["objects"] == ["Wooden boardwalk"]
    assert derived_score(hallucinated, missed) == 1  # 5 - 3 - 0.5 = 1.5, rounded down
    blind_h, _ = errors(wrong, truth, frozenset({"invented_logo"}))
    assert "logos" not in blind_h and "objects" in blind_h


def test_score_run_with_v2_on_the_simulator(tiny: Path, tmp_path: Path) -> None:
    """Reference-identical captions score 5, a caption with an invented logo and a wrong content type lower;
    the verdict keeps the errors; the scoring records v2 and that the judge saw the references."""
    outputs = {f"f{i}": reference_for(i) for i in range(4)}
    outputs["f1"] = {**reference_for(1), "logos": ["Coca-Cola"], "content_type": "animation"}
    run = make_run(tmp_path, tiny, "m", outputs)
    s = score_run(run, judge=compose_judge("sim_v2", []), judge_cache=tmp_path / "cache.sqlite")
    j = s["judge"]
    assert j["rubric_version"] == "2" and j["with_reference"] is True and j["simulated"] is True
    rows = {r["frame_id"]: r for r in map(json.loads, (run / "scores.jsonl").read_text().splitlines())}
    assert rows["f0"]["judge"]["score"] == 5 and rows["f2"]["judge"]["score"] == 5
    assert rows["f1"]["judge"]["score"] == 3
    assert rows["f1"]["judge"]["hallucinated"] == {"logos": ["Coca-Cola"], "content_type": ["animation"]}
    # v1 on the same run still works and is kept as another scoring, its verdicts not reused
    s1 = score_run(run, judge=compose_judge("sim", []), judge_cache=tmp_path / "cache.sqlite")
    assert s1["judge"]["rubric_version"] == "1" and s1["judge"]["cache_hits"] == 0
