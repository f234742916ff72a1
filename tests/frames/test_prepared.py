"""Frames prepared ahead of their send (bench.frames.prepared): order, bounds, bad inputs, the cache."""

import asyncio
import base64
import os

import pytest

from bench.frames import Frame
from bench.frames import prepared as prepared_mod
from bench.frames.prepared import EncodeSettings, FramePrep, ImageCache

from ..conftest import write_image

SETTINGS = EncodeSettings(512, 85, 10_000_000)


def _frames(tmp_path, n, same_image=False):
    out = []
    for i in range(n):
        path = tmp_path / ("same.jpg" if same_image else f"f{i}.jpg")
        if not path.exists():
            write_image(path, color=(i * 20 % 256, 30, 60))
        out.append(Frame(id=f"f{i}", image_path=path))
    return out


async def _drain(prep, frames, consumers=1):
    got = []
    async with prep.open(frames) as queue:
        async def consume():
            while (item := await queue.next()) is not None:
                got.append(item)
        await asyncio.gather(*(consume() for _ in range(consumers)))
    return got


async def test_frames_come_out_in_order_each_once_with_their_bytes_and_base64(tmp_path):
    frames = _frames(tmp_path, 12)
    got = await _drain(FramePrep(SETTINGS, ahead=3, workers=2), frames)
    assert [p.frame.id for p in got] == [f.id for f in frames]
    first = got[0].image
    assert first.mime == "image/jpeg" and first.data[:2] == b"\xff\xd8"
    assert base64.b64decode(first.base64) == first.data  # made once, in the worker
    assert all(p.error is None and p.prep_s >= 0 for p in got)


async def test_several_consumers_share_one_pass_without_losing_or_repeating_a_frame(tmp_path):
    frames = _frames(tmp_path, 30)
    got = await _drain(FramePrep(SETTINGS, ahead=4, workers=2), frames, consumers=5)
    assert sorted(p.frame.id for p in got) == sorted(f.id for f in frames)


async def test_preparation_reads_the_frames_lazily_and_stays_a_bounded_number_ahead(tmp_path):
    frames = _frames(tmp_path, 50, same_image=True)
    pulled = 0

    def lazily():
        nonlocal pulled
        for f in frames:
            pulled += 1
            yield f

    ahead = 5
    async with FramePrep(SETTINGS, ahead=ahead, workers=2).open(lazily()) as queue:
        first = await queue.next()
        await asyncio.sleep(0.3)  # give the producer every chance to run ahead
        # taken (1) + queued (ahead) + one held by the producer waiting for room
        assert first.frame.id == "f0" and pulled <= 1 + ahead + 1
        rest = []
        while (item := await queue.next()) is not None:
            rest.append(item.frame.id)
    assert pulled == 50 and len(rest) == 49


async def test_a_bad_frame_comes_out_as_an_error_naming_it_and_the_rest_go_on(tmp_path):
    frames = _frames(tmp_path, 3)
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    bad = [Frame(id="junk", image_path=tmp_path / "junk.jpg"), Frame(id="gone", image_path=tmp_path / "gone.jpg"),
           Frame(id="#line7", image_path=None, error="manifest line 7: not JSON")]
    got = await _drain(FramePrep(SETTINGS, ahead=2), [frames[0], *bad, *frames[1:]])
    by_id = {p.frame.id: p for p in got}
    assert [p.frame.id for p in got] == ["f0", "junk", "gone", "#line7", "f1", "f2"]
    assert by_id["junk"].image is None and "'junk'" in by_id["junk"].error and "not an image" in by_id["junk"].error
    assert by_id["gone"].image is None and "does not exist" in by_id["gone"].error
    assert by_id["#line7"].error == "manifest line 7: not JSON"
    assert all(by_id[f].image is not None for f in ("f0", "f1", "f2"))


async def test_a_repeated_image_is_prepared_once_and_a_changed_file_again(tmp_path, monkeypatch):
    calls = []
    real = prepared_mod.encode_frame

    def counting(frame, *args):
        calls.append(frame.id)
        return real(frame, *args)

    monkeypatch.setattr(prepared_mod, "encode_frame", counting)
    frames = _frames(tmp_path, 40, same_image=True)
    prep = FramePrep(SETTINGS, ahead=16, workers=4)
    got = await _drain(prep, frames)
    assert len(calls) == 1  # in-flight repeats wait for the one preparation; later ones hit the cache
    assert len({p.image.sha256 for p in got}) == 1 and sum(p.cached for p in got) == 39
    write_image(tmp_path / "same.jpg", size=(80, 60), color=(1, 2, 3))  # new size and mtime: a new image
    os.utime(tmp_path / "same.jpg", ns=(1, 1))
    again = await _drain(prep, frames[:3])
    assert len(calls) == 2 and again[0].image.width == 80
    # other settings are another image: the cache key holds them
    await _drain(FramePrep(EncodeSettings(32, 85, 10_000_000), cache=prep.cache), frames[:1])
    assert len(calls) == 3


def test_the_cache_stays_under_its_byte_budget(tmp_path):
    frames = _frames(tmp_path, 6)
    images = [prepared_mod.prepare(f, SETTINGS) for f in frames]
    budget = 3 * max(prepared_mod._size(i) for i in images)
    cache = ImageCache(max_bytes=budget)
    for f, image in zip(frames, images, strict=True):
        cache.put(ImageCache.key(f, SETTINGS), image)
    assert cache._bytes <= budget and 0 < len(cache._items) < 6
    assert cache.get(ImageCache.key(frames[-1], SETTINGS)) is not None  # the newest kept
    assert cache.get(ImageCache.key(frames[0], SETTINGS)) is None  # the oldest dropped


async def test_a_failing_frame_iterable_is_raised_to_the_consumer_not_swallowed(tmp_path):
    frames = _frames(tmp_path, 2)

    def broken():
        yield from frames
        raise OSError("manifest.jsonl: read error")

    with pytest.raises(OSError, match="read error"):
        await _drain(FramePrep(SETTINGS, ahead=2), broken())
