"""The shard partition (bench/frames/shards.py) and the refusal of shard specs that lose or repeat frames."""

import hashlib

import pytest

from bench.frames.shards import in_shard, shard_of, shard_predicate, shard_spec_problems


def test_shard_is_sha256_of_the_id_mod_n_as_documented():
    fid = "news/0001.jpg"
    expected = int.from_bytes(hashlib.sha256(fid.encode()).digest()[:8], "big") % 7
    assert shard_of(fid, 7) == expected
    assert shard_of(fid, 1) == 0


@pytest.mark.parametrize("n", [2, 3, 4, 16])
def test_every_frame_in_exactly_one_shard_and_shards_balanced(n):
    ids = [f"frame-{i:05d}" for i in range(4000)]
    owners = {fid: [k for k in range(n) if in_shard(fid, k, n)] for fid in ids}
    assert all(len(v) == 1 for v in owners.values())
    sizes = [sum(1 for v in owners.values() if v == [k]) for k in range(n)]
    assert sum(sizes) == len(ids)
    expected = len(ids) / n  # a uniform hash: each size within 5 binomial standard deviations of equal
    assert all(abs(size - expected) < 5 * (expected * (1 - 1 / n)) ** 0.5 for size in sizes), sizes


def test_partition_does_not_depend_on_order_or_other_frames():
    ids = [f"f{i}" for i in range(200)]
    before = {fid: shard_of(fid, 4) for fid in ids}
    after = {fid: shard_of(fid, 4) for fid in reversed(ids + [f"new{i}" for i in range(50)])}
    assert all(after[fid] == before[fid] for fid in ids)


def test_predicate_composes_with_any_iterator():
    keep = shard_predicate(1, 3)
    lazy = (f"id{i}" for i in range(30))
    assert [f for f in lazy if keep(f)] == [f"id{i}" for i in range(30) if shard_of(f"id{i}", 3) == 1]
    assert shard_predicate(None, 1)("anything")


@pytest.mark.parametrize(("shard", "count", "words"), [
    (4, 4, "0..3"), (-1, 4, "0..3"), (None, 4, "needs dataset.shard"), (2, 1, "num_shards=N"), (0, 0, "1 or more")])
def test_specs_that_leave_frames_out_or_double_count_are_refused(shard, count, words):
    problems = shard_spec_problems(shard, count)
    assert len(problems) == 1 and words in problems[0]


def test_valid_specs_pass():
    assert shard_spec_problems(None, 1) == [] and shard_spec_problems(0, 1) == [] and shard_spec_problems(3, 4) == []
