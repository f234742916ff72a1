"""The OpenAI streamed path without the SDK: SSE read line by line (bench.backends.chat_sse) from bytes that
arrive in any chunking, the prebuilt request body, and HTTP errors mapped as the SDK path maps them."""

import asyncio
import base64
import contextlib
import hashlib
import json

import pytest
from aiohttp import web

from bench.backends.base import BackendError, CaptionRequest, ImageInput, Sampling, StreamClock
from bench.backends.chat_sse import ChatStreamReader
from bench.backends.openai_chat import OpenAIChatBackend
from bench.sim.testing import gradient, jpeg

DATA = jpeg(gradient())
IMAGE = ImageInput(data=DATA, mime="image/jpeg", width=320, height=180, sha256=hashlib.sha256(DATA).hexdigest())
REQUEST = CaptionRequest(image=IMAGE, system="sys", user="Describe: «ünïcode» 字幕", sampling=Sampling(max_tokens=64))
TEXT = '{"summary": "Ein Bär läuft — 熊が走る 🐻."}'


def _chunk(delta, finish=None, usage=None):
    c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        c = {**c, "choices": [], "usage": usage}
    return f"data: {json.dumps(c, ensure_ascii=False)}\n\n".encode()


def _stream(parts, usage=True):
    out = [b": keep-alive comment\n\n", _chunk({"role": "assistant", "content": ""})]
    out += [_chunk({"content": p}) for p in parts]
    out.append(_chunk({}, finish="stop"))
    if usage:
        out.append(_chunk({}, usage={"prompt_tokens": 979, "completion_tokens": 12,
                                     "completion_tokens_details": {"reasoning_tokens": 0}}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


@contextlib.asynccontextmanager
async def _server(handler):
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    backend = OpenAIChatBackend("m", f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1", "secret-k")
    try:
        yield backend
    finally:
        await backend.aclose()
        await runner.cleanup()


@pytest.mark.parametrize("step", [1, 3, 7, 64])
async def test_bytes_split_anywhere_even_inside_a_character_give_the_same_answer(step):
    seen = {}
    # the first content chunk is held back 150 ms: TTFT must be stamped when its bytes arrive
    parts = [TEXT[:9], TEXT[9:20], TEXT[20:]]
    payload = _stream(parts)
    head = payload.index(_chunk({"content": parts[0]}))

    async def handler(request):
        seen["body"] = await request.read()
        seen["auth"] = request.headers.get("Authorization")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(payload), step):
            if i <= head < i + step:
                await asyncio.sleep(0.15)
            await resp.write(payload[i:i + step])
        return resp

    async with _server(handler) as backend:
        out = await backend.generate(REQUEST)
    assert out.text == TEXT and out.finish_reason == "stop" and out.streamed
    assert out.usage.input_tokens == 979 and out.usage.output_tokens == 12 and out.usage.reasoning_tokens == 0
    assert out.response_id == "chatcmpl-1" and out.model == "m"
    assert out.t_first_token - out.t_sent >= 0.15 and out.t_first_token <= out.t_last_token
    body = json.loads(seen["body"])  # the prebuilt bytes are the request the SDK would send
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][1]["content"][0]["text"] == REQUEST.user
    url = body["messages"][1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,") and base64.b64decode(url.split(",", 1)[1]) == DATA
    assert body["response_format"] == {"type": "json_object"} and seen["auth"] == "Bearer secret-k"


async def test_extra_body_is_merged_into_the_prebuilt_body():
    seen = {}

    async def handler(request):
        seen["body"] = json.loads(await request.read())
        return web.Response(body=_stream(["{}"]), content_type="text/event-stream")

    async with _server(handler) as backend:
        backend.extra_body = {"top_k": 5, "structured_outputs": {"json": {"type": "object"}}}
        await backend.generate(REQUEST)
    assert seen["body"]["top_k"] == 5 and seen["body"]["structured_outputs"] == {"json": {"type": "object"}}
    assert "extra_body" not in seen["body"]


@pytest.mark.parametrize("status, body, headers, kind, fatal", [
    (429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, {"retry-after": "0.4"}, "rate_limit", False),
    (429, {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota"}}, {}, "quota", True),
    (401, {"error": {"message": "Incorrect API key"}}, {}, "auth", True),
    (404, {"error": {"message": "The model `x` does not exist"}}, {}, "not_found", True),
    (503, "<html>upstream down</html>", {}, "server", False),
])
async def test_http_errors_map_to_the_one_vocabulary(status, body, headers, kind, fatal):
    async def handler(request):
        text = json.dumps(body) if isinstance(body, dict) else body
        return web.Response(status=status, text=text, headers=headers)

    async with _server(handler) as backend:
        with pytest.raises(BackendError) as exc:
            await backend.generate(REQUEST)
    err = exc.value
    assert err.kind == kind and err.fatal == fatal and err.status == status and "openai HTTP" in err.message
    assert "secret-k" not in err.message
    if headers:
        assert err.retry_after == pytest.approx(0.4)


async def test_a_dropped_connection_mid_stream_is_a_connection_failure():
    async def handler(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk({"content": "{\"a\""}))
        request.transport.close()  # gone mid-answer, no finish reason, no [DONE]
        return resp

    async with _server(handler) as backend:
        with pytest.raises(BackendError) as exc:
            await backend.generate(REQUEST)
    assert exc.value.kind == "connection" and exc.value.retryable


async def test_an_unreachable_server_is_a_connection_failure():
    backend = OpenAIChatBackend("m", "http://127.0.0.1:9/v1", "k")
    try:
        with pytest.raises(BackendError) as exc:
            await backend.generate(REQUEST)
    finally:
        await backend.aclose()
    assert exc.value.kind == "connection"


def _reader():
    return ChatStreamReader("openai", StreamClock(), max_chars=100)


def test_reader_skips_comments_and_blank_lines_and_stops_at_done():
    r = _reader()
    for line in (b": ping\n", b"\n", b"event: message\r\n", _chunk({"content": "ab"}).split(b"\n")[0] + b"\r\n",
                 b"data:" + json.dumps({"choices": [{"delta": {"content": "c"}, "finish_reason": "length"}]}).encode()):
        assert r.feed(line) is False
    assert r.feed(b"data: [DONE]\n") is True
    r.check_complete("text/event-stream")
    assert r.text == "abc" and r.finish_reason == "length" and r.clock.t_first_token is not None


def test_reader_counts_reasoning_apart_from_the_answer():
    r = _reader()
    r.feed(_chunk({"reasoning_content": "let me think"}).strip())
    assert r.clock.t_first_any is not None and r.clock.t_first_token is None and r.text == ""
    r.feed(_chunk({"content": "{}"}).strip())
    assert r.clock.t_first_token >= r.clock.t_first_any and r.clock.first_any is not None


@pytest.mark.parametrize("line, kind", [
    (b"data: {not json", "protocol"),
    (b"data: [1, 2]", "protocol"),
    (b'data: {"choices": ["x"]}', "protocol"),
    (b'data: {"error": {"message": "overloaded"}}', "server"),
    (b"data: \xff\xfe", "protocol"),
])
def test_reader_refuses_what_is_not_a_chat_chunk(line, kind):
    with pytest.raises(BackendError) as exc:
        _reader().feed(line)
    assert exc.value.kind == kind


def test_reader_cuts_off_a_runaway_answer_and_names_an_incomplete_or_empty_stream():
    r = _reader()
    with pytest.raises(BackendError, match="longer than 100"):
        for _ in range(20):
            r.feed(_chunk({"content": "0123456789"}).strip())
    r = _reader()
    r.feed(_chunk({"content": "{"}).strip())
    with pytest.raises(BackendError) as exc:
        r.check_complete("text/event-stream")
    assert exc.value.kind == "connection"
    with pytest.raises(BackendError, match="not an event stream"):
        _reader().check_complete("text/html")


async def test_the_body_built_once_per_run_still_carries_each_frames_own_image_and_settings():
    seen = []

    async def handler(request):
        seen.append(json.loads(await request.read()))
        return web.Response(body=_stream(["{}"]), content_type="text/event-stream")

    other = jpeg(gradient((64, 32)))
    image2 = ImageInput(data=other, mime="image/png", width=64, height=32, sha256=hashlib.sha256(other).hexdigest())
    async with _server(handler) as backend:
        await backend.generate(REQUEST)
        await backend.generate(CaptionRequest(image=image2, system="sys", user=REQUEST.user,
                                              sampling=Sampling(max_tokens=64)))
        await backend.generate(CaptionRequest(image=IMAGE, system="sys", user="other prompt",
                                              sampling=Sampling(max_tokens=99, temperature=0.7)))
    urls = [b["messages"][1]["content"][1]["image_url"]["url"] for b in seen]
    assert base64.b64decode(urls[0].split(",", 1)[1]) == DATA and urls[1].startswith("data:image/png;base64,")
    assert base64.b64decode(urls[1].split(",", 1)[1]) == other and base64.b64decode(urls[2].split(",", 1)[1]) == DATA
    assert seen[2]["max_completion_tokens"] == 99 and seen[2]["temperature"] == 0.7
    assert seen[2]["messages"][1]["content"][0]["text"] == "other prompt" and seen[0]["max_completion_tokens"] == 64


async def test_a_stream_read_to_its_end_keeps_one_connection_for_every_request(monkeypatch):
    """The chunked body's terminator arrives after [DONE]: read, the connection is reused (a new connection per
    request cost client and server a connect each); the answer's end is stamped at [DONE], not after it."""
    import bench.backends.openai_chat as openai_chat

    monkeypatch.setattr(openai_chat, "DRAIN_S", 5.0)  # a loaded test machine must not decide the outcome
    peers = []

    async def handler(request):
        peers.append(request.transport.get_extra_info("peername"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_stream(["{}"]))
        await asyncio.sleep(0.3)  # the terminator comes a while after [DONE]
        await resp.write_eof()
        return resp

    async with _server(handler) as backend:
        for _ in range(3):
            t0 = StreamClock.now()
            out = await backend.generate(REQUEST)
            assert StreamClock.now() - t0 >= 0.3  # it waited for the end of the body...
            assert out.text == "{}" and out.t_last_token - out.t_sent < 0.3  # ...but the answer ended at [DONE]
    assert len(peers) == 3 and len(set(peers)) == 1


async def test_a_server_that_keeps_the_stream_open_after_done_is_not_waited_for():
    async def handler(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_stream(["{}"]))
        await asyncio.sleep(5)
        return resp

    async with _server(handler) as backend:
        t0 = asyncio.get_running_loop().time()
        out = await backend.generate(REQUEST)
        assert out.text == "{}" and asyncio.get_running_loop().time() - t0 < 1.0


async def test_a_connection_dropped_after_done_leaves_the_answer_whole():
    async def handler(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_stream(["{}"]))
        await asyncio.sleep(0.01)  # within the drain's window
        request.transport.close()  # no chunked terminator: the body is incomplete for aiohttp
        return resp

    async with _server(handler) as backend:
        out = await backend.generate(REQUEST)
    assert out.text == "{}" and out.finish_reason == "stop" and out.usage.output_tokens == 12


@pytest.mark.parametrize("step", [1, 5, 1000])
def test_feed_bytes_splits_lines_anywhere_and_reads_a_last_line_without_newline(step):
    payload = _stream(["a", "b"]).replace(b"data: [DONE]\n\n", b"")
    reader = ChatStreamReader("p", StreamClock(), 1000)
    for i in range(0, len(payload), step):
        assert reader.feed_bytes(payload[i:i + step]) is False
    reader.end()
    assert reader.text == "ab" and reader.usage.output_tokens == 12
    last = ChatStreamReader("p", StreamClock(), 1000)
    last.feed_bytes(_chunk({"content": "x"}, finish="stop").rstrip(b"\n"))  # no newline at the end of the body
    assert last.text == "" and (last.end() or last.text) == "x" and last.finish_reason == "stop"
    with pytest.raises(BackendError) as err:  # a line that never ends is refused, not buffered forever
        ChatStreamReader("p", StreamClock(), 1000).feed_bytes(b"data: " + b"x" * (2**20 + 10))
    assert err.value.kind == "protocol" and "longer than" in err.value.message
