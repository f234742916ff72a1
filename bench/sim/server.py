"""The simulator's aiohttp app: three wire protocols over one fault/latency engine.

Routes
  POST /v1/chat/completions                          OpenAI (and vLLM) chat
  POST /v1/messages                                  Anthropic Messages
  POST /{v1,v1beta}/models/{model}:generateContent        Gemini
  POST /{v1,v1beta}/models/{model}:streamGenerateContent  Gemini (?alt=sse)
  GET  /v1/models, /health, /sim/stats

Every response carries `x-capbench-simulated: true`. Requests are logged to
stderr, one line each; keys and authorization headers are never printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

from aiohttp import web

from bench.backends.base import SESSION_HEADER
from bench.config import SimConfig
from bench.sim import captions as cap
from bench.sim import judge as sim_judge
from bench.sim import reasoning
from bench.sim import windows as sim_windows
from bench.sim.batch import add_batch_routes, gemini_create
from bench.sim.faults import FaultPlanner, malform
from bench.sim.protocols.anthropic_messages import AnthropicMessages
from bench.sim.protocols.base import (
    BadRequest,
    Dropped,
    Generation,
    SimRequest,
    WireProtocol,
    count_input_tokens,
    new_id,
    tokenize,
    wait_whole,
)
from bench.sim.protocols.gemini import Gemini
from bench.sim.protocols.openai_chat import OpenAIChat, model_list

DEFAULT_MODEL = "capbench-sim"


class SimState:
    """Everything the handlers share; one per app."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.planner = FaultPlanner(cfg)  # validates the knobs first
        refs = cap.load_references(cfg.references) if cfg.references else []
        self.captions = cap.CaptionMaker(cfg.seed, cfg.caption_quality, refs,
                                         temporal_jitter=float(getattr(cfg, "temporal_jitter", 0.0)))
        self.shutting_down = asyncio.Event()
        self.requests: Counter[str] = Counter()
        self.images: Counter[str] = Counter()  # image parts received, by protocol (window modes send several)


STATE = web.AppKey("sim_state", SimState)
INFO = web.RequestKey("sim_info", dict)  # what the log line reports about a request


def _log(request: web.Request, status: int, started: float) -> None:
    info = request.get(INFO, {})
    fields = " ".join(f"{k}={v}" for k, v in info.items())
    shown = "drop" if "dropped_after_tokens" in info else status  # the client never saw a status
    print(
        f"sim: {request.method} {request.path} {shown} {time.monotonic() - started:.3f}s {fields}".rstrip(),
        file=sys.stderr,
        flush=True,
    )


@web.middleware
async def log_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.monotonic()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # client went away (e.g. timed out on a hung request)
        raise
    finally:
        if request.path != "/health":
            _log(request, status, started)


async def _mark_simulated(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-capbench-simulated"] = "true"


def _drop(request: web.Request) -> None:
    """Close the TCP connection: whatever was written is flushed, then the peer sees EOF."""
    if request.transport is not None:
        request.transport.close()


def _plan(state: SimState, req: SimRequest, sha: str, caption: cap.Caption, session: str = "") -> Generation:
    """Decide this attempt (on the loop, so attempt numbers never race) and build exactly what will be emitted."""
    attempt = state.planner.decide(sha, session)
    cfg = state.cfg
    text = json.dumps(caption, indent=2, ensure_ascii=False)
    if attempt.outcome == "malformed":
        text = malform(caption, text, attempt.malformed_kind or "prose")
    tokens, finish = tokenize(text), "stop"
    # A reasoning model thinks first; its thinking counts against the output cap, as on the real APIs.
    thought = reasoning.spend(req.think, cfg.reasoning_tokens) if attempt.outcome != "blocked" else 0
    if req.max_tokens is not None:
        thought = min(thought, req.max_tokens)
    if attempt.outcome == "truncated":
        tokens, finish = tokens[: max(1, int(len(tokens) * attempt.cut))], "length"
    if req.max_tokens is not None and len(tokens) > req.max_tokens - thought:
        tokens, finish = tokens[: req.max_tokens - thought], "length"
    if attempt.outcome == "blocked":
        tokens, finish = [], "blocked"
    gen = Generation(
        id=new_id({"openai": "chatcmpl-", "anthropic": "msg_", "gemini": ""}.get(req.extra.get("proto", ""), "")),
        model=req.model,
        tokens=tokens,
        finish=finish,
        input_tokens=count_input_tokens(cfg.image_tokens * _media(req), req.system, req.user),
        attempt=attempt,
        image_tokens=cfg.image_tokens * _media(req),
        media_modality="VIDEO" if req.videos else "IMAGE",
        reasoning_model=req.think is not None,
        reasoning_tokens=thought,
        thinking_s=(cfg.thinking_s if cfg.thinking_s is not None else thought * cfg.per_token_s) if thought else 0.0,
        stream_interval=cfg.stream_interval,
    )
    if thought and req.think.show:  # a few summary chunks, as Claude's thinking blocks and Gemini's thoughts
        gen.thoughts = [f"Thinking about the frame ({i + 1}/4). " for i in range(4)]
    if attempt.outcome == "disconnect":
        gen.drop_after = int(len(tokens) * attempt.cut)
    if attempt.outcome == "server_error" and req.stream and attempt.rng.random() < 0.5:
        gen.error_after = int(len(tokens) * attempt.cut)  # the other half fail before the stream
    return gen


def _media(req: SimRequest) -> int:
    """Images the model would encode: each image part, each frame of a video part (decoded once, cached)."""
    if "media" not in req.extra:
        frames = 0
        if req.videos:
            from bench.frames.clip import decode_clip

            try:
                frames = sum(len(decode_clip(data)) for _, data in req.videos)
            except Exception:  # noqa: BLE001 - an unreadable clip is refused when it is captioned
                frames = len(req.videos)
        req.extra["media"] = len(req.images) + frames
    return int(req.extra["media"])


async def _handle(request: web.Request, proto: WireProtocol) -> web.StreamResponse:
    state = request.app[STATE]
    cfg = state.cfg
    info: dict[str, Any] = {"proto": proto.name}
    request[INFO] = info
    state.requests[proto.name] += 1
    if cfg.require_api_key is not None and proto.api_key(request) != cfg.require_api_key:
        info["outcome"] = "auth"
        return proto.error(401, "Invalid API key (simulator: require_api_key is set).")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        info["outcome"] = "bad_request"
        return proto.error(400, "Request body is not valid JSON.")
    try:
        req = proto.parse(body, request)
    except BadRequest as exc:
        info["outcome"] = "bad_request"
        return proto.error(400, str(exc), param=exc.param, code=exc.code)
    req.extra["proto"] = proto.name
    info["model"] = req.model
    info["stream"] = int(req.stream)
    if cfg.model_names and req.model not in cfg.model_names:
        info["outcome"] = "not_found"
        return proto.error(404, f"The model '{req.model}' does not exist (served: {', '.join(cfg.model_names)}).")
    mode = sim_windows.prompt_kind(req)
    if mode is None and not req.images:
        info["outcome"] = "bad_request"
        return proto.error(400, "The request has no image (the simulator captions frames; a text-only request "
                           "must carry a capbench summary prompt).")
    # Keyed on every medium sent, in order: retries of the same window draw the same faults.
    sha = hashlib.sha256(b"".join(d for _, d in req.images + req.videos) + req.user.encode()
                         if mode else req.image).hexdigest()
    info["image"] = sha[:12]
    info["images"] = len(req.images)
    if req.videos:
        info["videos"] = len(req.videos)
    state.images[proto.name] += len(req.images)
    try:
        # Decoding is CPU work: keep it off the event loop so streams stay on schedule.
        if mode is not None:  # a window mode prompt (bench/sim/windows.py): a caption in that prompt's schema
            caption, source = await asyncio.to_thread(sim_windows.answer, req, state.captions,
                                                      getattr(cfg, "window_answers", "window"))
        else:
            caption, source = await asyncio.to_thread(state.captions.caption, req.image, sha)
        if sim_judge.is_judge_request(req):  # judge mode (bench/sim/judge.py): a verdict instead of a caption
            caption, source = await asyncio.to_thread(sim_judge.answer, req, state.captions, cfg), "judge"
    except cap.ImageDecodeError as exc:
        info["outcome"] = "bad_request"
        return proto.error(400, f"Could not process image: {exc}")
    # A harness session number keys the faults too, so a resumed run (retry_failed) is a fresh
    # draw rather than the same failures replayed; without the header, behaviour is as before.
    gen = _plan(state, req, sha, caption, request.headers.get(SESSION_HEADER, ""))
    a = gen.attempt
    info.update(attempt=a.n, outcome=a.outcome, source=source)
    if a.outcome == "rate_limit":
        secs = f"{cfg.retry_after_s:g}"
        headers = {"retry-after": secs, "retry-after-ms": str(int(cfg.retry_after_s * 1000))}
        return proto.error(429, "Rate limit exceeded (simulated). Please retry after the given delay.", headers)
    if a.outcome == "server_error" and gen.error_after is None:
        return proto.error(500, "The server had an error while processing your request (simulated).")
    if a.outcome == "hang":
        try:  # ends early only on shutdown; a client that gives up cancels this handler
            await asyncio.wait_for(state.shutting_down.wait(), timeout=cfg.hang_s)
        except (TimeoutError, asyncio.TimeoutError):  # noqa: UP041 - distinct classes on Python 3.10
            pass
        if state.shutting_down.is_set():
            info["dropped_after_tokens"] = 0
            _drop(request)
            return web.Response(status=503)
    info.update(input_tokens=gen.input_tokens, output_tokens=gen.output_tokens, finish=gen.finish)
    if gen.reasoning_model:
        info["reasoning_tokens"] = gen.reasoning_tokens
    try:
        if req.stream:
            return await proto.stream(request, req, gen)
        await wait_whole(gen)
        return proto.respond(req, gen)
    except Dropped:
        info["dropped_after_tokens"] = gen.drop_after if req.stream else 0
        _drop(request)
        return web.Response(status=200)  # never reaches the client: the connection is closed


def build_app(cfg: SimConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[log_requests], client_max_size=64 * 1024 * 1024)
    state = SimState(cfg or SimConfig())
    app[STATE] = state
    app.on_response_prepare.append(_mark_simulated)

    async def on_shutdown(_app: web.Application) -> None:
        state.shutting_down.set()  # releases hung requests so shutdown is prompt

    app.on_shutdown.append(on_shutdown)
    openai, anthropic, gemini = OpenAIChat(), AnthropicMessages(), Gemini()

    async def chat(request: web.Request) -> web.StreamResponse:
        return await _handle(request, openai)

    async def messages(request: web.Request) -> web.StreamResponse:
        return await _handle(request, anthropic)

    async def gemini_route(request: web.Request) -> web.StreamResponse:
        action = request.match_info["model_action"].rpartition(":")[2]
        if action == "batchGenerateContent":  # Gemini Batch Mode (bench/sim/batch.py)
            return await gemini_create(request, request.match_info["model_action"].rpartition(":")[0])
        if action not in ("generateContent", "streamGenerateContent"):
            return gemini.error(404, f"Method '{action}' is not supported by the simulator.")
        return await _handle(request, gemini)

    async def models(request: web.Request) -> web.Response:
        return web.json_response(model_list(state.cfg.model_names or [DEFAULT_MODEL]))

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"requests": dict(state.requests), "images": dict(state.images),
                                  "outcomes": dict(state.planner.outcomes)})

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    # google-genai >= 3 defaults to v1 for the Gemini API; older SDKs and curl examples use v1beta.
    app.router.add_post(r"/{version:v1|v1beta|v1alpha}/models/{model_action}", gemini_route)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/sim/stats", stats)
    add_batch_routes(app, state, {"openai": openai, "anthropic": anthropic, "gemini": gemini}, _plan)
    return app


class SimServer:
    """Run the app on 127.0.0.1 (port 0 = any free port), in this loop or in a thread.

    async with SimServer(cfg) as sim: ...        # same event loop
    with SimServer(cfg).in_thread() as sim: ...  # for sync SDK clients
    """

    def __init__(self, cfg: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.cfg = cfg or SimConfig()
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def app(self) -> web.Application:
        assert self._runner is not None, "server not started"
        return self._runner.app

    async def start(self) -> SimServer:
        # handler_cancellation: a client that gives up cancels its handler, as on a real server.
        self._runner = web.AppRunner(
            build_app(self.cfg), handler_cancellation=True, shutdown_timeout=2.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def in_thread(self) -> SimServer:
        """Start in a daemon thread with its own loop; use as a sync context manager."""
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # surface start-up errors to the caller
                errors.append(exc)
                loop.close()
                self._loop = None
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="capbench-sim", daemon=True)
        self._thread.start()
        started.wait()
        if errors:
            raise errors[0]
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> SimServer:
        return self if self._thread else self.in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()
