"""Takes frames through a backend and records one line per frame.

Closed loop: at most `concurrency` requests in flight. Open loop: requests
are *scheduled* at Poisson arrival times for a target rate, whatever the
server does, and latency is also measured from the scheduled time (so a slow
server cannot make the client under-report: coordinated omission).

Per request the runner stamps scheduled, sent, first-token and last-token
times (epoch seconds). Records are appended and flushed as each frame
completes; nothing is kept only in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.backends.base import (
    Backend,
    BackendError,
    CaptionRequest,
    CaptionResponse,
    ImageInput,
    Reasoning,
    Sampling,
    StreamClock,
)
from bench.config import PromptConfig, RunnerConfig
from bench.cost import cost_of_generation
from bench.frames import Frame
from bench.frames.prepared import EncodeSettings, FramePrep, ImageCache, PreparedFrame, PrepQueue
from bench.loopmon import LoopMonitor
from bench.retry import RetryOutcome, call_with_retry
from bench.store import RunStore, redact
from bench.tasks import gather_all
from bench.validity import assess

# Frames in a row (different frames, no answer in between) whose every attempt failed to connect:
# the server is gone, not flaky. Three: one dropped connection is a fault worth recording, three
# frames each failing all their attempts is an outage.
UNREACHABLE_AFTER = 3
WATCH_INTERVAL_S = 0.25  # how often a managed server's process is checked
PREP_AHEAD_MAX = 256  # frames prepared ahead of their send, at most (2 x concurrency + 8 below that)

__all__ = ["EncodeSettings", "FatalRunError", "Prices", "Runner", "ServerWatch"]


class FatalRunError(Exception):
    """A systemic failure (bad key, unknown model, no quota, a dead server): stop instead of failing every frame."""


@dataclass(frozen=True)
class ServerWatch:
    """What the runner knows of the server: its URL (for messages) and, when capbench started it,
    a check that says why its process is gone (None while it runs)."""

    base_url: str | None = None
    gone: Callable[[], str | None] = lambda: None


@dataclass(frozen=True)
class Prices:
    input_per_million: float | None
    output_per_million: float | None


class Runner:
    def __init__(self, *, backend: Backend, prompt: PromptConfig, sampling: Sampling, runner_cfg: RunnerConfig,
                 encode: EncodeSettings, prices: Prices, store: RunStore, session: int,
                 on_record: Callable[[dict[str, Any]], None] | None = None,
                 server: ServerWatch | None = None, reasoning: Reasoning | None = None) -> None:
        self.backend = backend
        self.prompt = prompt
        self.sampling = sampling
        self.reasoning = reasoning or Reasoning()
        self.cfg = runner_cfg
        self.encode = encode
        self.prices = prices
        self.store = store
        self.session = session
        self.on_record = on_record or (lambda rec: None)
        self.rng = random.Random(runner_cfg.seed)
        self.server = server or ServerWatch()
        self._fatal: BackendError | None = None
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Future[RetryOutcome]] = set()
        self._abandoned = False  # the server is gone: requests in flight were cancelled, not failed
        # Connection failures not recorded yet: recorded once an answer shows the server is up,
        # left unrecorded (to resume) if the streak shows it is down.
        self._held: list[dict[str, Any]] = []
        self._schema = dict(prompt.json_schema) or None
        self._image_cache = ImageCache()  # kept across run() calls: a repeated image is prepared once
        # The client's own distortion (event-loop lag, CPU), measured while frames are sent.
        self.loop_monitor = LoopMonitor()
        self.sent = 0  # frames sent to the backend by this Runner (bad inputs are not sent)

    async def run(self, frames: Iterable[Frame]) -> None:
        """Send every frame not recorded yet. `frames` may be any iterable: it is read lazily, and
        images are prepared a bounded number of frames ahead of their send (bench.frames.prepared)."""
        if self.cfg.mode not in ("closed", "open"):
            raise ValueError(f"runner.mode must be 'closed' or 'open', not {self.cfg.mode!r}")
        if self.cfg.mode == "open" and (not self.cfg.rate or self.cfg.rate <= 0):
            raise ValueError("runner.mode=open needs runner.rate > 0 (requests per second)")
        # the store keeps only the recorded ids (bench.store): memory does not grow with the frames
        pending = (f for f in frames if not self.store.has(f.id))
        concurrency = max(1, self.cfg.concurrency)
        prep = FramePrep(self.encode, ahead=min(PREP_AHEAD_MAX, 2 * concurrency + 8), cache=self._image_cache)
        async with self._watched(), prep.open(pending) as queue:
            if self.cfg.mode == "closed":
                await self._closed_loop(queue, concurrency)
            else:
                await self._open_loop(queue, concurrency)

    @contextlib.asynccontextmanager
    async def _watched(self) -> AsyncIterator[None]:
        """Around the sending: the server watch and the event-loop monitor; after it, a fatal error stops the
        run, else the failures held back while the server was in doubt are recorded as the frames' own."""
        watch = asyncio.ensure_future(self._watch_server())
        self.loop_monitor.start()
        try:
            yield
        finally:
            await self.loop_monitor.stop()
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        if self._fatal is not None:
            raise FatalRunError(self._fatal.message)
        self._flush_held()  # the run finished with the server up: those failures were the frames' own

    async def _closed_loop(self, queue: PrepQueue, concurrency: int) -> None:
        async def worker() -> None:
            while self._fatal is None:
                item = await queue.next()
                if item is None:
                    return
                # Closed loop: a request is due once its slot is free and its image is ready, so queue
                # time is the wait to be sent, not the (separately recorded) image preparation.
                await self._process(item, scheduled=StreamClock.now())

        await gather_all(worker() for _ in range(concurrency))

    async def _open_loop(self, queue: PrepQueue, concurrency: int) -> None:
        """Poisson arrivals: each frame is due at its arrival time whatever the server does. A frame
        whose image is not ready, or that waits for the safety cap on requests in flight, keeps its
        arrival time as t_scheduled: the wait shows as queue time, as a slow client would."""
        assert self.cfg.rate
        limit = asyncio.Semaphore(concurrency)
        arrivals = random.Random(self.cfg.seed)
        start = StreamClock.now()
        offset = 0.0
        tasks: set[asyncio.Task[None]] = set()

        crashed: list[BaseException] = []

        async def send(item: PreparedFrame, at: float) -> None:
            try:
                if self._fatal is None:
                    await self._process(item, scheduled=at)
            except Exception as exc:  # a bug of ours: stop sending, raise it below
                crashed.append(exc)
                self._stopping.set()
            finally:
                limit.release()

        try:
            while self._fatal is None and not crashed:
                item = await queue.next()
                if item is None:
                    break
                offset += arrivals.expovariate(self.cfg.rate)
                at = start + offset
                try:  # sleep until the arrival, but wake at once if the run is stopping
                    await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, at - StreamClock.now()))
                    break
                except TimeoutError:
                    pass
                await limit.acquire()
                task = asyncio.ensure_future(send(item, at))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await gather_all(list(tasks))
            if crashed:
                raise crashed[0]
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _process(self, item: PreparedFrame, scheduled: float) -> None:
        frame, image = item.frame, item.image
        base: dict[str, Any] = {"frame_id": frame.id, "session": self.session, "prep_s": item.prep_s,
                                "content_type": frame.meta.get("content_type"), "t_scheduled": scheduled}
        # where the frame sits in time, for temporal scores (bench.score.temporal); only when known
        base.update({k: frame.meta[k] for k in ("video", "shot", "timestamp_s") if frame.meta.get(k) is not None})
        if image is None:
            self._record(self._failed(base, "bad_input", item.error or "the image could not be prepared"))
            return
        request = CaptionRequest(image=image, system=self.prompt.system, user=self.prompt.user,
                                 sampling=self.sampling, schema=self._schema, reasoning=self.reasoning)
        await self._send(base, image, request)

    async def _send(self, base: dict[str, Any], image: ImageInput | None,
                    request: CaptionRequest) -> dict[str, Any] | None:
        """Send one request with retries and record its outcome; the record, or None when none was written
        (a systemic failure, the server gone, or a connection failure held until the server is seen up).
        `image` is what the record's `image` field describes (a window's first image or its grid)."""
        self.sent += 1
        call = asyncio.ensure_future(call_with_retry(lambda: self.backend.generate(request), self.cfg.retry,
                                                     self.cfg.request_timeout_s, self.rng))
        self._in_flight.add(call)
        try:
            outcome = await call
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._abandoned and current is not None and not current.cancelling():
                return None  # the server died with this frame in flight: unrecorded, it resumes
            raise
        finally:
            self._in_flight.discard(call)
        if outcome.response is None:
            error = outcome.error or BackendError("connection", "no response")
            if error.fatal:
                # Not recorded: the frame is fine, the setup is not. Resume after fixing it.
                self._stop(error)
                return None
            if self._stopping.is_set():
                return None  # failed while the run stops on a systemic error: not the model's failure
            gone = self.server.gone()
            if gone:  # checked before recording, not only by the watchdog: no race lets it through
                self._server_gone(gone)
                return None
            if error.kind == "connection":
                self._hold(self._completed(base, image, outcome), error)
                return None
        if outcome.response is not None or (outcome.error is not None and outcome.error.kind != "timeout"):
            self._flush_held()  # the server answered (even with an error): it is up
        record = self._completed(base, image, outcome)
        self._record(record)
        return record

    def client_stats(self) -> dict[str, Any]:
        """The client's own distortion during run() (bench.loopmon): metrics.json `client`."""
        return self.loop_monitor.stats(requests=self.sent)

    def _stop(self, error: BackendError) -> None:
        self._fatal = self._fatal or error
        self._stopping.set()

    def _server_gone(self, reason: str) -> None:
        """The server is gone: stop now, cancel what is in flight (it cannot succeed), record none of it."""
        if self._fatal is None:
            left = len(self._held) + len(self._in_flight)
            self._stop(BackendError("connection", f"{reason}\n{left} frames in flight or failing to connect "
                                    "were left unrecorded, with every frame not yet sent"))
        self._abandoned = True
        self._held.clear()
        for call in list(self._in_flight):
            call.cancel()

    async def _watch_server(self) -> None:
        """Poll the managed server's process, so its death stops the run within a second, even while
        requests wait out their retries."""
        while not self._stopping.is_set():
            gone = self.server.gone()
            if gone:
                self._server_gone(gone)
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=WATCH_INTERVAL_S)
            except TimeoutError:
                pass

    def _hold(self, record: dict[str, Any], error: BackendError) -> None:
        """A frame whose every attempt failed to connect: an outage if the next frames fail too."""
        self._held.append(record)
        if len(self._held) >= UNREACHABLE_AFTER:
            where = redact(self.server.base_url) if self.server.base_url else "the server"
            self._server_gone(f"no connection to {where}: {len(self._held)} frames in a row failed to connect "
                              f"({error.message}). Is the server running? Once it is, re-run the same command "
                              "to resume.")

    def _flush_held(self) -> None:
        held, self._held = self._held, []
        for record in held:
            self._record(record)

    def _failed(self, base: dict[str, Any], kind: str, message: str) -> dict[str, Any]:
        verdict, _ = assess(None, None, self.prompt.json_schema, self.prompt.rules, error_kind=kind)
        return {**base, "status": "failed", "error": {"kind": kind, "message": message}, "validity": verdict.to_dict(),
                "attempts": [], "n_attempts": 0, "text": None, "caption": None}

    def _completed(self, base: dict[str, Any], image: ImageInput | None, outcome: RetryOutcome) -> dict[str, Any]:
        attempts = [a.to_dict() for a in outcome.attempts]
        response = outcome.response
        record: dict[str, Any] = {
            **base,
            "image": {"sha256": image.sha256, "width": image.width, "height": image.height, "bytes": len(image.data)}
            if image is not None else None,  # None: a text-only request (mode=summary)
            "attempts": attempts,
            "n_attempts": len(attempts),
            # The replica the last attempt went to (several replicas: bench/backends/replicas.py), else None.
            "endpoint": attempts[-1].get("endpoint") if attempts else None,
        }
        # Tokens of every attempt, retried ones included: they are paid for. Unknown when the
        # answer's usage is missing: a cost is never computed from a guess.
        known = response is None or (response.usage.input_tokens is not None
                                     and response.usage.output_tokens is not None)
        if known:
            spent_in = sum(a["input_tokens"] or 0 for a in attempts)
            spent_out = sum(a["output_tokens"] or 0 for a in attempts)
            # Reasoning is part of the output tokens (and priced with them); kept apart to be shown.
            spent_reasoning = sum(a.get("reasoning_tokens") or 0 for a in attempts)
            record["usage_all_attempts"] = {"input_tokens": spent_in, "output_tokens": spent_out,
                                            "reasoning_tokens": spent_reasoning}
            if self.prices.input_per_million is not None and self.prices.output_per_million is not None:
                record["cost_usd"] = cost_of_generation(spent_in, spent_out, self.prices.input_per_million,
                                                        self.prices.output_per_million)
        else:
            record["usage_all_attempts"] = None
            record["usage_missing"] = True
        if response is None:
            err = outcome.error or BackendError("connection", "no response")
            verdict, _ = assess(None, None, self.prompt.json_schema, self.prompt.rules, error_kind=err.kind)
            record.update({"status": "failed", "error": {"kind": err.kind, "message": err.message,
                                                         "status": err.status},
                           "validity": verdict.to_dict(), "text": None, "caption": None})
            return record
        verdict, caption = assess(response.text, response.finish_reason, self.prompt.json_schema, self.prompt.rules)
        t_first = response.t_first_token
        out_tokens = response.usage.output_tokens
        visible = _visible_tokens(response)
        record.update({
            "status": "ok",
            "error": None,
            "text": response.text,
            "caption": caption if isinstance(caption, dict) else None,
            "validity": verdict.to_dict(),
            "finish_reason": response.finish_reason,
            "raw_finish_reason": response.raw_finish_reason,
            "response_id": response.response_id,
            "served_model": response.model,
            "served_by_simulator": response.simulated,
            "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": out_tokens,
                      "reasoning_tokens": response.usage.reasoning_tokens, "visible_output_tokens": visible,
                      "raw": response.usage.raw},
            "streamed": response.streamed,  # False: one JSON body, its TTFT is when the body arrived
            "t_first_sent": outcome.attempts[0].t_sent,  # the frame's first attempt
            "t_sent": response.t_sent,  # the attempt that answered (the last one)
            "t_first_any": response.t_first_any,  # first token of any kind, reasoning included
            "t_first_token": t_first,
            "t_last_token": response.t_last_token,
            "timing": _timing(base["t_scheduled"], outcome.attempts[0].t_sent, response.t_sent, t_first,
                              response.t_last_token, visible),
        })
        record["timing"]["thinking_s"] = (t_first - response.t_first_any
                                          if t_first is not None and response.t_first_any is not None else None)
        return record

    def _record(self, record: dict[str, Any]) -> None:
        self.store.append(record)
        self.on_record(record)


def _visible_tokens(response: CaptionResponse) -> int | None:
    """Output tokens of the answer itself: output minus reasoning. With no reasoning count from the
    server and none seen in the stream, every output token is visible; with reasoning seen but not
    counted (a server that does not split), the number is unknown."""
    usage = response.usage
    if usage.reasoning_tokens is not None:
        return usage.visible_output_tokens
    return usage.output_tokens if response.t_first_any is None else None


def _timing(scheduled: float, first_sent: float, sent: float, first: float | None, last: float,
            out_tokens: int | None) -> dict[str, float | None]:
    """MISSION.md definitions. Three clocks, each from a stamp in the record:
    - queue_s: t_first_sent - t_scheduled (the wait before the frame was first sent);
    - ttft_s / e2el_s / tpot_s: the attempt that answered, from its own send (t_sent): the server's speed;
    - ttft_user_s / e2el_user_s: from the first send (t_first_sent), failed attempts and backoff included:
      the latency the user felt ("felt latency"); equal to the per-attempt ones when nothing was retried;
    - *_from_scheduled_s: from t_scheduled, queueing and retries included (coordinated omission).
    TPOT is over the *visible* output tokens (`out_tokens`): reasoning is spent before the first visible
    token, inside TTFT, so counting it would make a reasoning model look faster per token than it is."""
    ttft = (first - sent) if first is not None else None
    e2el = last - sent
    tpot = (e2el - ttft) / (out_tokens - 1) if ttft is not None and out_tokens and out_tokens > 1 else None
    return {
        "queue_s": first_sent - scheduled,
        "ttft_s": ttft,
        "e2el_s": e2el,
        "tpot_s": tpot,
        "ttft_user_s": (first - first_sent) if first is not None else None,
        "e2el_user_s": last - first_sent,
        "ttft_from_scheduled_s": (first - scheduled) if first is not None else None,
        "e2el_from_scheduled_s": last - scheduled,
    }

