"""bench.sim.captions: frame statistics, stats captions, dHash references, degradation."""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bench.sim import captions as cap
from bench.sim.testing import gradient, jpeg, noisy, solid


def _words(c: dict) -> set[str]:
    return set(re.findall(r"[a-z]+", json.dumps(c).lower()))


def _overlap(a: dict, b: dict) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / max(1, len(wa | wb))


def test_stats_describe_the_frame(frames: dict[str, bytes]) -> None:
    red = cap.frame_stats(cap.open_image(frames["red"]))
    assert red.colours[0] == "red" and not red.busy and red.aspect == "widescreen" and not red.greyscale
    grad = cap.frame_stats(cap.open_image(frames["gradient"]))
    assert grad.gradient is not None and grad.gradient[0] == "left to right"
    busy = cap.frame_stats(cap.open_image(frames["noisy"]))
    assert busy.busy and len(busy.colours) >= 2
    grey = cap.frame_stats(cap.open_image(frames["grey"]))
    assert grey.greyscale and grey.saturation < 0.05


@pytest.mark.parametrize("name", ["solid", "red", "gradient", "noisy", "grey"])
def test_stats_caption_valid_and_obeys_rules(frames: dict[str, bytes], caption_schema: dict, name: str) -> None:
    c = cap.stats_caption(cap.frame_stats(cap.open_image(frames[name])))
    jsonschema.validate(c, caption_schema)
    assert list(c) == list(cap.CAPTION_KEYS)
    assert 1 <= len(cap._sentences(c["description"])) <= 4
    assert len(cap._sentences(c["summary"])) == 1
    assert not c["description"].lower().startswith(("this image", "this keyframe"))
    assert c["logos"] == []


def test_caption_maker_deterministic_and_seeded(frames: dict[str, bytes]) -> None:
    data = frames["noisy"]
    sha = hashlib.sha256(data).hexdigest()
    a, src = cap.CaptionMaker(seed=1, quality=0.6).caption(data, sha)
    b, _ = cap.CaptionMaker(seed=1, quality=0.6).caption(data, sha)
    c, _ = cap.CaptionMaker(seed=2, quality=0.6).caption(data, sha)
    assert a == b and src == "stats"
    assert a != c  # the seed changes the paraphrase / degradation draws


def test_undecodable_image_raises() -> None:
    with pytest.raises(cap.ImageDecodeError):
        cap.open_image(b"not an image")


def test_dhash_survives_resize_and_reencode() -> None:
    img = noisy(3, (640, 360)).resize((64, 36)).resize((640, 360))  # smooth enough to hash stably
    h1 = cap.dhash(cap.open_image(jpeg(img, 95)))
    h2 = cap.dhash(cap.open_image(jpeg(img.resize((320, 180)), 60)))
    other = cap.dhash(cap.open_image(jpeg(gradient((640, 360)))))
    assert cap.hamming(h1, h2) <= cap.DHASH_MAX_DISTANCE
    assert cap.hamming(h1, other) > cap.DHASH_MAX_DISTANCE


def _reference(i: int) -> dict:
    return {
        "description": f"A wooden boardwalk number {i} crosses tall green grass. Trees line the horizon.",
        "objects": ["Wooden boardwalk", "Tall green grass", "Blue sky", "White clouds", "Trees"],
        "actions": ["wind moving the grass"],
        "environment": "An outdoor wetland on a clear day with lush vegetation.",
        "content_type": "real-world footage",
        "specific_style": "landscape photography",
        "production_quality": "professional photography",
        "summary": "A wooden boardwalk winds through a green field under a bright sky.",
        "logos": ["Park service logo on a sign"],
    }


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    imgs = {"a": noisy(10, (64, 36)).resize((320, 180)), "b": gradient((320, 180)), "c": solid((250, 250, 0))}
    (tmp_path / "images").mkdir()
    lines = []
    for i, (key, img) in enumerate(imgs.items()):
        img.save(tmp_path / "images" / f"{key}.png")
        row = {"id": key, "image": f"images/{key}.png"}
        if key != "c":  # a frame without a reference caption is skipped
            row["reference"] = _reference(i)
        lines.append(json.dumps(row))
    lines.append(json.dumps({"id": "missing", "image": "images/nope.png", "reference": _reference(9)}))
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "manifest.jsonl"


def test_references_nearest_and_fallback(manifest: Path, caption_schema: dict) -> None:
    refs = cap.load_references(str(manifest.parent))  # a folder means folder/manifest.jsonl
    assert sorted(r.id for r in refs) == ["a", "b"]
    maker = cap.CaptionMaker(seed=0, quality=1.0, references=refs)
    # The harness re-encodes frames as JPEG: the reference must still be found.
    query = jpeg(Image.open(manifest.parent / "images" / "a.png"), 80)
    c, src = maker.caption(query, hashlib.sha256(query).hexdigest())
    assert src == "ref:a"
    jsonschema.validate(c, caption_schema)
    assert _overlap(c, _reference(0)) > 0.7  # light paraphrase only
    far = jpeg(solid((250, 250, 0)))
    _, src = maker.caption(far, hashlib.sha256(far).hexdigest())
    assert src == "stats"


def test_unusable_manifest_lines_are_skipped_not_fatal(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One bad line must not stop the simulator: the harness records it as a failed frame."""
    good = manifest.read_bytes()
    manifest.write_bytes(
        b"\xef\xbb\xbf"  # UTF-8 BOM before line 1
        + good
        + b"{not json\n[1, 2]\n\"text\"\n{\"id\": \"x\", \"image\": 5, \"reference\": {}}\n"
        + b"{\"id\": \"\xff\"}\n"
    )
    refs = cap.load_references(str(manifest))
    assert sorted(r.id for r in refs) == ["a", "b"]  # the BOM line ("a") still counts
    err = capsys.readouterr().err
    assert err.count("sim: skipped 5 unusable line(s)") == 1 and "(line 5, 6, 7, 8, 9)" in err


def test_quality_degrades_monotonically(caption_schema: dict) -> None:
    ref = _reference(0)
    scores = {}
    for q in (1.0, 0.6, 0.2):
        vals = [_overlap(cap.degrade(ref, q, random.Random(i)), ref) for i in range(40)]
        scores[q] = sum(vals) / len(vals)
        for i in range(5):
            out = cap.degrade(ref, q, random.Random(i))
            assert set(out) == set(cap.CAPTION_KEYS)  # keys and types survive; content does not
            assert isinstance(out["objects"], list) and isinstance(out["description"], str)
    assert scores[1.0] > scores[0.6] + 0.05 > scores[0.2] + 0.1
    assert scores[1.0] > 0.75
    faithful = [cap.degrade(ref, 1.0, random.Random(i)) for i in range(20)]
    for c in faithful:
        jsonschema.validate(c, caption_schema)
        assert not c["description"].startswith("This image shows")


def test_low_quality_sometimes_breaks_prompt_rules() -> None:
    outs = [cap.degrade(_reference(0), 0.0, random.Random(i)) for i in range(200)]
    leadins = sum(c["description"].startswith("This image shows") for c in outs)
    too_many = sum(len(c["objects"]) > 10 for c in outs)
    assert 30 < leadins < 90 and 10 < too_many < 60
