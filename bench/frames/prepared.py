"""Frames' images prepared ahead of their send, off the event loop, in order, in bounded memory.

Why: decoding, orienting and re-encoding a frame takes milliseconds of CPU. Done on the event loop's
thread (or fighting it for the GIL at the moment of the send) it delays the loop that stamps every
request's times, so the client measures itself (issue 12: 37% of a saturated loop). Here each frame
is prepared once, by a pool of worker threads (Pillow's decoders and encoders release the GIL),
a bounded number of frames ahead of the sender: memory stays flat whatever the number of frames,
and a frame iterable is consumed lazily. The base64 text the request carries is made in the worker
too. An image that repeats (same path, mtime, size and settings) is prepared once and reused from
a small cache.

A frame that cannot be prepared is not an exception here: it comes out as a `PreparedFrame` with
its `error`, which the runner records as a bad input, and the run goes on.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.backends.base import ImageInput
from bench.frames.base import Frame, FrameError
from bench.frames.image import encode_frame

CACHE_BYTES = 64 * 2**20  # prepared images kept for reuse (encoded bytes + base64 text)


@dataclass(frozen=True)
class EncodeSettings:
    max_side: int
    jpeg_quality: int
    max_pixels: int


@dataclass(frozen=True)
class PreparedFrame:
    frame: Frame
    image: ImageInput | None  # None: the frame is a bad input, `error` says why
    error: str | None
    prep_s: float  # CPU-side preparation time of this frame (about 0 when it came from the cache)
    cached: bool = False


def prepare(frame: Frame, settings: EncodeSettings) -> ImageInput:
    """Encode one frame and its base64 text (in the calling worker). Raises FrameError."""
    image = encode_frame(frame, settings.max_side, settings.jpeg_quality, settings.max_pixels)
    image.base64  # noqa: B018  computed here, in the worker, not on the event loop at send time
    return image


class ImageCache:
    """Prepared images by (path, mtime, size, settings); least recently used dropped past `max_bytes`."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], ImageInput] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    @staticmethod
    def key(frame: Frame, settings: EncodeSettings) -> tuple[Any, ...] | None:
        if frame.error or frame.image_path is None:
            return None
        try:
            st = os.stat(frame.image_path)
        except OSError:
            return None  # missing: preparing it names the problem
        return (str(frame.image_path), st.st_mtime_ns, st.st_size, settings)

    def get(self, key: tuple[Any, ...] | None) -> ImageInput | None:
        image = self._items.get(key) if key is not None else None
        if image is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return image

    def put(self, key: tuple[Any, ...] | None, image: ImageInput) -> None:
        size = _size(image)
        if key is None or key in self._items or size > self.max_bytes:
            return
        self._items[key] = image
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self._bytes -= _size(old)


def _size(image: ImageInput) -> int:
    return 2 * len(image.data) + 64  # bytes + base64 text (4/3) + overhead, roughly


def _prepare_timed(frame: Frame, settings: EncodeSettings) -> tuple[ImageInput | None, str | None, float]:
    t0 = time.perf_counter()
    try:
        image, error = prepare(frame, settings), None
    except FrameError as exc:
        image, error = None, str(exc)
    return image, error, time.perf_counter() - t0


class FramePrep:
    """Prepared frames in the order given, at most `ahead` prepared or in preparation at a time.

        prep = FramePrep(settings, ahead=64)
        async with prep.open(frames) as queue:
            while (item := await queue.next()) is not None: ...

    `next()` may be called by several consumers at once (the closed loop's workers).
    """

    def __init__(self, settings: EncodeSettings, *, ahead: int = 64, workers: int | None = None,
                 executor: Executor | None = None, cache: ImageCache | None = None) -> None:
        if ahead < 1:
            raise ValueError("ahead must be at least 1")
        self.settings = settings
        self.ahead = ahead
        self.workers = workers or min(4, os.cpu_count() or 1)
        self._executor = executor
        self.cache = cache if cache is not None else ImageCache()

    def open(self, frames: Iterable[Frame]) -> PrepQueue:
        return PrepQueue(self, iter(frames))


class PrepQueue:
    """One pass of a FramePrep over frames (an async context manager; closing stops the producer)."""

    def __init__(self, prep: FramePrep, frames: Iterator[Frame]) -> None:
        self._prep = prep
        self._frames = frames
        self._queue: asyncio.Queue[asyncio.Future[PreparedFrame] | None] = asyncio.Queue(maxsize=prep.ahead)
        self._own_executor: Executor | None = None
        self._producer: asyncio.Task[None] | None = None
        self._done = False
        self._error: BaseException | None = None  # raised by the frame iterable: re-raised to the consumers
        # Images in preparation by cache key: a repeat waits for the one preparation, not a second one.
        self._inflight: dict[tuple[Any, ...], asyncio.Future[tuple[ImageInput | None, str | None, float]]] = {}

    async def __aenter__(self) -> PrepQueue:
        executor = self._prep._executor
        if executor is None:
            executor = self._own_executor = ThreadPoolExecutor(self._prep.workers, thread_name_prefix="capbench-prep")
        self._producer = asyncio.ensure_future(self._produce(executor))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
        while not self._queue.empty():  # frames prepared but never taken: drop them
            fut = self._queue.get_nowait()
            if fut is not None:
                fut.cancel()
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=False, cancel_futures=True)

    async def _produce(self, executor: Executor) -> None:
        loop = asyncio.get_running_loop()
        cache, settings = self._prep.cache, self._prep.settings
        try:
            for frame in self._frames:
                key = cache.key(frame, settings)
                image = cache.get(key)
                if image is not None:
                    fut: asyncio.Future[PreparedFrame] = loop.create_future()
                    fut.set_result(PreparedFrame(frame, image, None, 0.0, cached=True))
                else:
                    fut = asyncio.ensure_future(self._one(loop, executor, frame, key))
                await self._queue.put(fut)  # blocks while `ahead` frames wait: bounded memory
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the frame iterable failed (a manifest that cannot be read)
            self._error = exc
        finally:
            self._done = True
            try:
                self._queue.put_nowait(None)
            except asyncio.QueueFull:
                pass  # a consumer sees _done when it empties the queue

    async def _one(self, loop: asyncio.AbstractEventLoop, executor: Executor, frame: Frame,
                   key: tuple[Any, ...] | None) -> PreparedFrame:
        shared = self._inflight.get(key) if key is not None else None
        if shared is not None:  # the same image is being prepared for an earlier frame: wait for it
            image, error, _ = await asyncio.shield(shared)
            if image is not None:
                return PreparedFrame(frame, image, None, 0.0, cached=True)
        work = loop.run_in_executor(executor, _prepare_timed, frame, self._prep.settings)
        if key is not None:
            self._inflight[key] = work
        try:
            image, error, prep_s = await work
        finally:
            if key is not None and self._inflight.get(key) is work:
                del self._inflight[key]
        if image is not None:
            self._prep.cache.put(key, image)
        return PreparedFrame(frame, image, error, prep_s)

    async def next(self) -> PreparedFrame | None:
        """The next prepared frame, or None when there are no more."""
        if self._done and self._queue.empty():
            return self._end()
        fut = await self._queue.get()
        if fut is None:
            self._queue.put_nowait(None)  # the end, for the other consumers too
            return self._end()
        if self._done and self._queue.empty():
            self._queue.put_nowait(None)
        return await fut

    def _end(self) -> None:
        if self._error is not None:
            raise self._error
        return None
