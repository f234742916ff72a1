"""Temporal scores on hand-made sequences whose answers are worked out by hand (bench.score.temporal)."""

from __future__ import annotations

import pytest

from bench.score.temporal import TemporalItem, jaccard, match_boundaries, object_name, temporal_scores, words


def cap(ct="real-world footage", style="landscape photography", quality="professional", env="a green field",
        desc="grass under a blue sky", summary="a field of grass", objects=("grass", "sky")) -> dict:
    return {"content_type": ct, "specific_style": style, "production_quality": quality, "environment": env,
            "description": desc, "summary": summary, "objects": list(objects), "actions": [], "logos": []}


# Scene B: every field different from scene A.
B = dict(ct="animation", style="cartoon", quality="amateur", env="a dark kitchen", desc="a chef cooks pasta",
         summary="cooking in a kitchen", objects=("chef", "pot"))


def seq(*specs, video="v1"):
    """specs: (shot, caption) per frame, 1 s apart."""
    return [TemporalItem(f"{video}-{i}", video, shot, float(i), c) for i, (shot, c) in enumerate(specs)]


def test_identical_captions_within_a_shot_are_perfectly_stable():
    s = temporal_scores(seq(("s0", cap()), ("s0", cap()), ("s0", cap())))
    assert s["applicable"] and s["within_shot_pairs"] == 2
    assert s["stability"] == 1.0
    for f in ("content_type", "specific_style", "production_quality", "environment", "description", "summary"):
        assert s["field_stability"][f]["value"] == 1.0 and s["field_stability"][f]["n"] == 2
    assert s["object_persistence"]["value"] == 1.0
    assert s["flicker"] == {"rate": 0.0, "ci95": s["flicker"]["ci95"], "flickers": 0, "chances": 2}


def test_known_field_changes_give_known_rates():
    # 3 within-shot pairs; content_type changes in 1 of them (frame 2 differs), environment Jaccard known.
    frames = seq(("s0", cap()), ("s0", cap()), ("s0", cap(ct="CGI", env="a green meadow")), ("s0", cap()))
    s = temporal_scores(frames)
    fs = s["field_stability"]
    assert fs["content_type"]["value"] == pytest.approx(1 / 3)  # pairs (0,1) hold, (1,2) and (2,3) change
    # "a green field" vs "a green meadow": {a, green} / {a, green, field, meadow} = 0.5, twice; the first pair 1.0
    assert fs["environment"]["value"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert fs["specific_style"]["value"] == 1.0
    expected = (1 / 3 + 1 + 1 + (2 / 3) + 1 + 1) / 6
    assert s["stability"] == pytest.approx(expected)


def test_exact_fields_ignore_case_and_punctuation():
    s = temporal_scores(seq(("s0", cap(ct="Real-World footage")), ("s0", cap(ct="real world  footage."))))
    assert s["field_stability"]["content_type"]["value"] == 1.0


def test_object_persistence_and_flicker():
    a = cap(objects=("A chef", "pot", "knife"))
    b = cap(objects=("chef", "pot"))  # knife vanishes for one frame
    c = cap(objects=("the chef", "pot", "knife"))
    s = temporal_scores(seq(("s0", a), ("s0", b), ("s0", c)))
    # articles dropped: {chef, pot, knife} vs {chef, pot}: 2/3 both ways
    assert s["object_persistence"]["value"] == pytest.approx(2 / 3)
    assert s["flicker"]["chances"] == 3 and s["flicker"]["flickers"] == 1
    assert s["flicker"]["rate"] == pytest.approx(1 / 3)


def test_flicker_needs_three_frames_of_one_shot():
    s = temporal_scores(seq(("s0", cap(objects=("x",))), ("s1", cap(objects=()) ), ("s1", cap(objects=("x",)))))
    assert s["flicker"]["chances"] == 0 and s["flicker"]["rate"] is None


def test_boundaries_precision_recall_f1_and_best_k():
    # shots: s0 s0 | s1 s1 | s2 ; true cuts at pair positions 1 and 3.
    # pair 1: every field changes (7 fields) -> detected at any k; pair 3: back to scene A (7 changes too);
    # pair 0 within s0: only content_type changes (1 field) -> a false boundary at k=1 only.
    frames = seq(("s0", cap()), ("s0", cap(ct="CGI")), ("s1", cap(**B)), ("s1", cap(**B)), ("s2", cap()))
    s = temporal_scores(frames, {"k": 3})
    b = s["boundaries"]
    assert (b["true_cuts"], b["predicted"], b["matched"]) == (2, 2, 2)
    assert b["precision"] == b["recall"] == b["f1"] == 1.0
    k1 = b["by_k"]["1"]
    assert (k1["predicted"], k1["matched"]) == (3, 2)
    assert k1["precision"] == pytest.approx(2 / 3) and k1["recall"] == 1.0 and k1["f1"] == pytest.approx(0.8)
    assert b["by_k"]["7"]["f1"] == 1.0
    assert b["best_k"] == 2 and b["best_f1"] == 1.0  # smallest k reaching the best F1


def test_a_missed_cut_lowers_recall_only():
    # cut between s0 and s1 but the captions are identical: nothing detected.
    s = temporal_scores(seq(("s0", cap()), ("s1", cap()), ("s1", cap())), {"k": 2})
    b = s["boundaries"]
    assert b["true_cuts"] == 1 and b["predicted"] == 0 and b["recall"] == 0.0 and b["precision"] is None
    assert b["f1"] == 0.0  # 2 x 0 matched / (0 predicted + 1 true)


def test_tolerance_matches_a_late_boundary_one_to_one():
    assert match_boundaries([2], [3], 0) == 0
    assert match_boundaries([2], [3], 1) == 1
    assert match_boundaries([2], [1, 3], 1) == 1  # one cut claims one prediction
    assert match_boundaries([2, 4], [3], 1) == 1


def test_boundary_fields_and_threshold_configurable():
    frames = seq(("s0", cap()), ("s1", cap(ct="CGI")))
    only_ct = temporal_scores(frames, {"k": 1, "boundary_fields": ["content_type"]})["boundaries"]
    assert only_ct["f1"] == 1.0
    no_ct = temporal_scores(frames, {"k": 1, "boundary_fields": ["summary", "objects"]})["boundaries"]
    assert no_ct["predicted"] == 0
    with pytest.raises(ValueError, match="unknown field"):
        temporal_scores(frames, {"boundary_fields": ["colour"]})
    with pytest.raises(ValueError, match="temporal.k=9"):
        temporal_scores(frames, {"k": 9})


def test_bad_input_is_named_and_counted_never_a_crash():
    items = [
        TemporalItem("lonely", "v-single", "s0", 0.0, cap()),          # a video with one frame
        TemporalItem("no-ts", "v1", "s0", None, cap()),                 # missing timestamp
        TemporalItem("no-video", None, "s0", 1.0, cap()),               # no video
        TemporalItem("b", "v1", "s0", 2.0, cap(ct="CGI")),              # out of order: arrives before "a"
        TemporalItem("a", "v1", "s0", 1.0, cap()),
        TemporalItem("a-dup", "v1", "s0", 1.0, cap(ct="cartoon")),     # duplicate timestamp: "a" kept
        TemporalItem("c", "v1", None, 3.0, cap()),                      # unknown shot
        TemporalItem("d", "v1", "s0", 4.0, None),                       # no valid caption
        TemporalItem("nan", "v1", "s0", float("nan"), cap()),           # unusable timestamp
    ]
    s = temporal_scores(items)
    assert s["skipped_frames"] == {"no_timestamp": 2, "no_video": 1}
    assert s["single_frame_videos"] == 1 and s["duplicate_timestamps"] == 1 and s["out_of_order_videos"] == 1
    # v1 in time order: a(1) b(2) c(3, no shot) d(4, no caption): pairs a-b scored, b-c and c-d unknown shot
    assert s["pairs_not_scored"] == {"unknown_shot": 2}
    assert s["within_shot_pairs"] == 1
    assert s["field_stability"]["content_type"]["value"] == 0.0  # a (kept, not a-dup) vs b


def test_pairs_without_caption_are_counted_and_a_cut_there_is_missed():
    s = temporal_scores(seq(("s0", cap()), ("s0", None), ("s1", cap(**B))))
    assert s["pairs_not_scored"] == {"no_caption": 2}
    assert s["within_shot_pairs"] == 1 and s["field_stability"]["content_type"]["n"] == 0
    assert s["boundaries"]["true_cuts"] == 1 and s["boundaries"]["recall"] == 0.0


def test_not_applicable_without_sequences():
    s = temporal_scores([TemporalItem("x", None, None, None, cap()), TemporalItem("y", "v", "s", 0.0, cap())])
    assert s["applicable"] is False and "timestamp_s" in s["reason"]
    assert s["skipped_frames"] == {"no_video": 1} and s["single_frame_videos"] == 1


def test_helpers():
    assert jaccard(frozenset(), frozenset()) == 1.0
    assert jaccard(words("A red car"), words("a blue car")) == pytest.approx(2 / 4)
    assert object_name("  The Red  Car ") == "red car"


def test_chance_f1_and_auc():
    # pairs: within s0 (1 field changes), cut s0|s1 (7 change), within s1 (0), cut s1|s2 (7)
    frames = seq(("s0", cap()), ("s0", cap(ct="CGI")), ("s1", cap(**B)), ("s1", cap(**B)), ("s2", cap()))
    b = temporal_scores(frames)["boundaries"]
    assert b["chance_f1"] == pytest.approx(2 * 2 / (4 + 2))  # every pair called a boundary: P 1/2, R 1
    assert b["auc"] == 1.0  # both cuts change more fields than both within-shot pairs
    # a cut that changes nothing ranks below a within-shot pair that changes one field, ties count half
    frames = seq(("s0", cap()), ("s0", cap(ct="CGI")), ("s1", cap(ct="CGI")))
    b = temporal_scores(frames)["boundaries"]
    assert b["auc"] == 0.0 and b["chance_f1"] == pytest.approx(2 * 1 / (2 + 1))
    frames = seq(("s0", cap()), ("s0", cap()), ("s1", cap()))
    assert temporal_scores(frames)["boundaries"]["auc"] == 0.5


def test_run_items_use_valid_captions_only_and_fall_back_to_dataset_meta():
    from bench.score.temporal import needs_frame_meta, run_items

    ok = {"schema_valid": True}
    records = [
        {"frame_id": "a", "video": "v", "shot": "s0", "timestamp_s": 0.0, "caption": cap(), "validity": ok},
        {"frame_id": "b", "video": "v", "shot": "s0", "timestamp_s": 1.0, "caption": cap(ct="CGI"),
         "validity": {"schema_valid": False}},  # parsed but schema-invalid: no caption for temporal scores
        {"frame_id": "c", "caption": cap(), "validity": ok},  # an older record: where it sits comes from the dataset
    ]
    assert needs_frame_meta(records) and not needs_frame_meta(records[:2])
    items = list(run_items(records, {"c": {"video": "v", "shot": "s0", "timestamp_s": 2.0}}))
    assert [i.caption is not None for i in items] == [True, False, True]
    assert items[2] == TemporalItem("c", "v", "s0", 2.0, records[2]["caption"])
    s = temporal_scores(items)
    assert s["pairs_not_scored"] == {"no_caption": 2} and s["within_shot_pairs"] == 2


def test_captions_loaded_one_video_at_a_time_give_the_same_scores():
    """bench.score passes record offsets and a loader (load_caption) so that one video's captions are held at a
    time: the scores must be those of the captions given directly, bad input included."""
    items = [*seq(("s0", cap()), ("s0", cap(ct="CGI")), ("s1", cap(env="a beach")), ("s1", None), ("s1", cap())),
             *seq(("a", cap(objects=("dog", "ball"))), ("a", cap(objects=("dog",))), ("b", cap()), video="v2"),
             TemporalItem("lonely", "v3", "s0", 0.0, cap()), TemporalItem("no-ts", "v1", "s0", None, cap()),
             TemporalItem("dup", "v1", "s0", 1.0, cap(ct="cartoon"))]
    store = {i: it.caption for i, it in enumerate(items) if it.caption is not None}
    keyed = [it._replace(caption=i if it.caption is not None else None) for i, it in enumerate(items)]
    asked = []

    def load(key):
        asked.append(key)
        return store[key]

    direct = temporal_scores(items, seed=1, replicates=50)
    lazy = temporal_scores(keyed, seed=1, replicates=50, load_caption=load)
    assert lazy == direct and direct["applicable"]
    # every caption is loaded once, but for a frame with no timestamp and the loser of a duplicate instant
    # ("dup" and "v1-1" share t=1.0: the first by frame id, "dup", is kept)
    assert sorted(asked) == sorted(k for k in store if items[k].frame_id not in ("no-ts", "v1-1"))
