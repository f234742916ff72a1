"""The three providers' batch protocols, simulated over HTTP (SIMULATED: captions are derived, never a model's).

Routes (added to the simulator's app by bench.sim.server)
  OpenAI     POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}/content,
             POST /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel
  Anthropic  POST /v1/messages/batches, GET /v1/messages/batches/{id},
             GET /v1/messages/batches/{id}/results, POST /v1/messages/batches/{id}/cancel
  Gemini     POST /{v1,v1beta}/models/{model}:batchGenerateContent (inline requests),
             GET /{v}/batches/{id}, POST /{v}/batches/{id}:cancel

Each item is answered as the on-demand route would answer it (same caption maker, same fault
planner, same response body), so batch and on-demand runs of the same frames are comparable.
Knobs (SimConfig): batch_turnaround_s (submit -> ended; a tenth of it "validating"/pending),
batch_error_rate / batch_expire_rate (per item, in the provider's shape), batch_never_finish
(stays in progress: the client's timeout), batch_result_faults (a damaged results file:
unknown_id, duplicate, missing, non_json).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from bench.sim.protocols.base import BadRequest, new_id


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SimBatch:
    id: str
    proto: str  # openai | anthropic | gemini
    items: list[tuple[str, Any]]  # (custom id, request body)
    created: float
    model: str = ""
    display_name: str = ""
    input_file_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # OpenAI batches.create(metadata=...)
    cancelled_at: float | None = None
    results: list[dict[str, Any]] | None = None  # per item: {"custom_id", "kind", "body"|"error"}
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failed: list[str] = field(default_factory=list)  # validation errors: the whole batch fails

    def phase(self, cfg: Any, now: float) -> str:
        """pending -> in_progress -> ended (or cancelling -> ended when cancelled)."""
        if self.failed:
            return "failed"
        if self.cancelled_at is not None:
            return "ended" if now - self.cancelled_at >= min(0.2, cfg.batch_turnaround_s) else "cancelling"
        elapsed = now - self.created
        if elapsed < 0.1 * cfg.batch_turnaround_s:
            return "pending"
        if cfg.batch_never_finish or elapsed < cfg.batch_turnaround_s or not self.ready.is_set():
            return "in_progress"
        return "ended"

    def ended_at(self, cfg: Any) -> float:
        if self.cancelled_at is not None:
            return self.cancelled_at + min(0.2, cfg.batch_turnaround_s)
        return self.created + cfg.batch_turnaround_s


class BatchSim:
    """State of every batch of one simulator app, and the per-item answers."""

    def __init__(self, state: Any, protos: dict[str, Any], plan: Callable[..., Any]) -> None:
        self.state, self.protos, self.plan = state, protos, plan
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, SimBatch] = {}
        self.submitted = 0  # batches created (tests check nothing was submitted twice)

    @property
    def cfg(self) -> Any:
        return self.state.cfg

    def create(self, proto: str, items: list[tuple[str, Any]], *, model: str = "", display_name: str = "",
               input_file_id: str = "", failed: list[str] | None = None) -> SimBatch:
        prefix = {"openai": "batch_", "anthropic": "msgbatch_", "gemini": ""}[proto]
        batch = SimBatch(id=new_id(prefix), proto=proto, items=items, created=time.time(), model=model,
                         display_name=display_name, input_file_id=input_file_id, failed=failed or [])
        self.batches[batch.id] = batch
        self.submitted += 1
        if not batch.failed:
            asyncio.get_running_loop().create_task(self._answer(batch))
        return batch

    async def _answer(self, batch: SimBatch) -> None:
        # seeded by what the batch holds, not its random id: the same batch meets the same faults every time
        rng = random.Random(f"{self.cfg.seed}:" + ",".join(str(cid) for cid, _ in batch.items))
        out = []
        for custom_id, body in batch.items:
            roll = rng.random()
            if roll < self.cfg.batch_expire_rate:
                out.append({"custom_id": custom_id, "kind": "expired"})
                continue
            if roll < self.cfg.batch_expire_rate + self.cfg.batch_error_rate:
                out.append({"custom_id": custom_id, "kind": "errored", "status": 500,
                            "error": "The server had an error while processing this request (simulated)."})
                continue
            out.append(await asyncio.to_thread(self._one, batch, custom_id, body))
        batch.results = out
        batch.ready.set()

    def _one(self, batch: SimBatch, custom_id: str, body: Any) -> dict[str, Any]:
        proto = self.protos[batch.proto]
        fake = SimpleNamespace(match_info={"model_action": f"{batch.model}:generateContent"}, query={})
        try:
            req = proto.parse(body, fake)
        except BadRequest as exc:
            return {"custom_id": custom_id, "kind": "errored", "status": 400, "error": str(exc)}
        req.stream = False
        req.extra["proto"] = batch.proto
        sha = hashlib.sha256(req.image).hexdigest()
        try:
            caption, _ = self.state.captions.caption(req.image, sha)
        except Exception as exc:  # an image the simulator cannot decode: that item errors, as on the API
            return {"custom_id": custom_id, "kind": "errored", "status": 400,
                    "error": f"Could not process image: {exc}"}
        gen = self.plan(self.state, req, sha, caption, f"batch:{batch.id}")
        if gen.attempt.outcome in ("rate_limit", "server_error", "hang", "disconnect"):
            return {"custom_id": custom_id, "kind": "errored", "status": 500,
                    "error": f"simulated {gen.attempt.outcome} inside the batch"}
        resp = proto.respond(req, gen)
        return {"custom_id": custom_id, "kind": "ok", "body": json.loads(resp.body)}

    def damaged(self, results: list[dict[str, Any]]) -> list[dict[str, Any] | str]:
        """The results as the (possibly damaged) file will list them: faults from batch_result_faults."""
        out: list[dict[str, Any] | str] = list(results)
        faults = set(self.cfg.batch_result_faults)
        if "missing" in faults and len(out) > 1:
            out.pop(1)
        if "duplicate" in faults and out:
            out.append(out[0])
        if "unknown_id" in faults and results:
            out.append({**results[0], "custom_id": "no-such-request"})
        if "non_json" in faults:
            out.insert(min(1, len(out)), "this line is not JSON {")
        return out


BATCH = web.AppKey("sim_batches", BatchSim)


def add_batch_routes(app: web.Application, state: Any, protos: dict[str, Any], plan: Callable[..., Any]) -> None:
    sim = BatchSim(state, protos, plan)
    app[BATCH] = sim
    for method, path, handler in (
        ("POST", "/v1/files", _openai_upload), ("GET", "/v1/files/{file_id}/content", _openai_file_content),
        ("POST", "/v1/batches", _openai_create), ("GET", "/v1/batches/{batch_id}", _openai_get),
        ("GET", "/v1/batches", _list), ("GET", "/{version:v1beta|v1alpha}/batches", _list),
        ("POST", "/v1/batches/{batch_id}/cancel", _openai_cancel),
        ("POST", "/v1/messages/batches", _anthropic_create), ("GET", "/v1/messages/batches/{batch_id}", _anthropic_get),
        ("GET", "/v1/messages/batches/{batch_id}/results", _anthropic_results),
        ("POST", "/v1/messages/batches/{batch_id}/cancel", _anthropic_cancel),
        ("GET", r"/{version:v1beta|v1alpha}/batches/{batch_id}", _gemini_get),  # v1: _openai_get dispatches
        ("POST", r"/{version:v1|v1beta|v1alpha}/batches/{batch_action}", _gemini_cancel),
    ):
        app.router.add_route(method, path, handler)


def _batch(request: web.Request, proto: str, key: str = "batch_id") -> SimBatch:
    batch = request.app[BATCH].batches.get(request.match_info[key])
    if batch is None or batch.proto != proto:
        raise web.HTTPNotFound(text=json.dumps({"error": {"message": f"No batch {request.match_info[key]!r}",
                                                          "type": "not_found_error"}}),
                               content_type="application/json")
    return batch


def _cancel(batch: SimBatch, cfg: Any) -> None:
    """Cancelling a batch that has not ended cancels every item (the simulator answers them at the end)."""
    if batch.cancelled_at is None and batch.phase(cfg, time.time()) not in ("ended", "failed"):
        batch.cancelled_at = time.time()


def _final(batch: SimBatch) -> list[dict[str, Any]]:
    """Per-item outcome at the end: every item of a cancelled batch is cancelled; otherwise the answers."""
    if batch.cancelled_at is not None:
        return [{"custom_id": cid, "kind": "cancelled"} for cid, _ in batch.items]
    return batch.results or []


# ---- OpenAI ---------------------------------------------------------------------------------
async def _openai_upload(request: web.Request) -> web.Response:
    sim = request.app[BATCH]
    reader = await request.multipart()
    data, purpose, filename = b"", "", "upload.jsonl"
    async for part in reader:
        if part.name == "file":
            filename = part.filename or filename
            data = await part.read(decode=False)
        elif part.name == "purpose":
            purpose = (await part.text()).strip()
    if purpose != "batch":
        return web.json_response({"error": {"message": f"purpose {purpose!r}: use 'batch'", "type":
                                            "invalid_request_error"}}, status=400)
    file_id = new_id("file-")
    sim.files[file_id] = bytes(data)
    return web.json_response({"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                              "filename": filename, "purpose": "batch", "status": "processed"})


async def _openai_file_content(request: web.Request) -> web.Response:
    data = request.app[BATCH].files.get(request.match_info["file_id"])
    if data is None:
        return web.json_response({"error": {"message": "No such file", "type": "invalid_request_error"}}, status=404)
    return web.Response(body=data, content_type="application/octet-stream")


async def _openai_create(request: web.Request) -> web.Response:
    sim = request.app[BATCH]
    body = await request.json()
    data = sim.files.get(body.get("input_file_id", ""))
    if data is None:
        return web.json_response({"error": {"message": "input_file_id not found", "type": "invalid_request_error"}},
                                 status=400)
    items, errors, model = [], [], ""
    for n, line in enumerate(data.splitlines(), 1):
        try:
            entry = json.loads(line)
            if entry.get("url") != body.get("endpoint"):
                raise ValueError(f"url {entry.get('url')!r} is not the batch's endpoint")
            items.append((entry["custom_id"], entry["body"]))
            model = model or entry["body"].get("model", "")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            errors.append(f"line {n}: {exc}")
    batch = sim.create("openai", items, model=model, input_file_id=body["input_file_id"], failed=errors)
    batch.metadata = dict(body.get("metadata") or {})
    return web.json_response(_openai_object(request, batch))


def _openai_object(request: web.Request, batch: SimBatch) -> dict[str, Any]:
    sim = request.app[BATCH]
    cfg = sim.cfg
    phase = batch.phase(cfg, time.time())
    final = _final(batch) if phase == "ended" else []
    status = {"pending": "validating", "in_progress": "in_progress", "cancelling": "cancelling",
              "failed": "failed"}.get(phase, "cancelled" if batch.cancelled_at is not None else "completed")
    if phase == "ended" and any(r["kind"] == "expired" for r in final):
        status = "expired"
    obj: dict[str, Any] = {
        "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": batch.input_file_id,
        "completion_window": "24h", "status": status, "output_file_id": None, "error_file_id": None,
        "created_at": int(batch.created), "in_progress_at": int(batch.created + 0.1 * cfg.batch_turnaround_s)
        if phase not in ("pending", "failed") else None,
        "completed_at": None, "cancelled_at": None, "expired_at": None, "failed_at": None,
        "request_counts": {"total": len(batch.items), "completed": 0, "failed": 0}, "metadata": batch.metadata,
        "errors": {"object": "list", "data": [{"code": "invalid_request", "message": e} for e in batch.failed]}
        if batch.failed else None,
    }
    if phase == "ended":
        lines = sim.damaged([_openai_line(r) for r in final])
        ok = [x for x in lines if isinstance(x, dict) and x["response"] and x["response"]["status_code"] == 200]
        bad = [x for x in lines if x not in ok]
        if ok:
            obj["output_file_id"] = _store_file(sim, batch.id + "-out", ok)
        if bad:
            obj["error_file_id"] = _store_file(sim, batch.id + "-err", bad)
        done = sum(1 for r in final if r["kind"] == "ok")
        obj["request_counts"] = {"total": len(batch.items), "completed": done, "failed": len(final) - done}
        key = {"cancelled": "cancelled_at", "expired": "expired_at"}.get(status, "completed_at")
        obj[key] = int(batch.ended_at(cfg))
    return obj


def _store_file(sim: BatchSim, file_id: str, lines: list[Any]) -> str:
    sim.files[file_id] = b"".join((x if isinstance(x, str) else json.dumps(x)).encode() + b"\n" for x in lines)
    return file_id


def _openai_line(r: dict[str, Any]) -> dict[str, Any]:
    rid = new_id("batch_req_")
    if r["kind"] == "ok":
        return {"id": rid, "custom_id": r["custom_id"],
                "response": {"status_code": 200, "request_id": rid, "body": r["body"]}, "error": None}
    if r["kind"] == "errored":
        return {"id": rid, "custom_id": r["custom_id"],
                "response": {"status_code": r["status"], "request_id": rid,
                             "body": {"error": {"message": r["error"], "type": "server_error"}}}, "error": None}
    code = {"expired": "batch_expired", "cancelled": "batch_cancelled"}[r["kind"]]
    return {"id": rid, "custom_id": r["custom_id"], "response": None,
            "error": {"code": code, "message": f"This request could not be executed before the batch was {r['kind']}."}}


async def _openai_get(request: web.Request) -> web.Response:
    # GET /v1/batches/{id} is also Gemini's path (google-genai >= 3 uses v1): answer in the batch's own protocol.
    batch = request.app[BATCH].batches.get(request.match_info["batch_id"])
    if batch is not None and batch.proto == "gemini":
        return web.json_response(_gemini_object(request, batch))
    return web.json_response(_openai_object(request, _batch(request, "openai")))


async def _list(request: web.Request) -> web.Response:
    """GET /v1/batches: OpenAI's list, or Gemini's (google-genai sends x-goog-api-key), newest first, one page."""
    sim = request.app[BATCH]
    newest = sorted(sim.batches.values(), key=lambda b: b.created, reverse=True)
    if "x-goog-api-key" in request.headers or request.match_info.get("version"):
        return web.json_response({"operations": [_gemini_object(request, b) for b in newest if b.proto == "gemini"]})
    data = [_openai_object(request, b) for b in newest if b.proto == "openai"]
    return web.json_response({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                              "last_id": data[-1]["id"] if data else None, "has_more": False})


async def _openai_cancel(request: web.Request) -> web.Response:
    batch = _batch(request, "openai")
    _cancel(batch, request.app[BATCH].cfg)
    return web.json_response(_openai_object(request, batch))


# ---- Anthropic ------------------------------------------------------------------------------
async def _anthropic_create(request: web.Request) -> web.Response:
    sim = request.app[BATCH]
    body = await request.json()
    reqs = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(reqs, list) or not reqs:
        return web.json_response({"type": "error", "error": {"type": "invalid_request_error",
                                                             "message": "requests: a non-empty list"}}, status=400)
    ids = [r.get("custom_id") for r in reqs]
    if len(set(ids)) != len(ids):
        return web.json_response({"type": "error", "error": {"type": "invalid_request_error",
                                                             "message": "custom_id values must be unique"}}, status=400)
    model = (reqs[0].get("params") or {}).get("model", "")
    batch = sim.create("anthropic", [(r["custom_id"], r["params"]) for r in reqs], model=model)
    return web.json_response(_anthropic_object(request, batch))


def _anthropic_object(request: web.Request, batch: SimBatch) -> dict[str, Any]:
    cfg = request.app[BATCH].cfg
    phase = batch.phase(cfg, time.time())
    counts = {"processing": len(batch.items), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    ended = phase == "ended"
    if ended:
        final = _final(batch)
        counts = {"processing": 0, "succeeded": sum(r["kind"] == "ok" for r in final),
                  "errored": sum(r["kind"] == "errored" for r in final),
                  "canceled": sum(r["kind"] == "cancelled" for r in final),
                  "expired": sum(r["kind"] == "expired" for r in final)}
    base = f"{request.scheme}://{request.host}"
    return {"id": batch.id, "type": "message_batch",
            "processing_status": "ended" if ended else ("canceling" if phase == "cancelling" else "in_progress"),
            "request_counts": counts, "created_at": _iso(batch.created),
            "expires_at": _iso(batch.created + 86400), "ended_at": _iso(batch.ended_at(cfg)) if ended else None,
            "cancel_initiated_at": _iso(batch.cancelled_at), "archived_at": None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if ended else None}


async def _anthropic_get(request: web.Request) -> web.Response:
    return web.json_response(_anthropic_object(request, _batch(request, "anthropic")))


async def _anthropic_cancel(request: web.Request) -> web.Response:
    batch = _batch(request, "anthropic")
    _cancel(batch, request.app[BATCH].cfg)
    return web.json_response(_anthropic_object(request, batch))


async def _anthropic_results(request: web.Request) -> web.Response:
    sim = request.app[BATCH]
    batch = _batch(request, "anthropic")
    if batch.phase(sim.cfg, time.time()) != "ended":
        return web.json_response({"type": "error", "error": {"type": "invalid_request_error",
                                                             "message": "Batch has not ended"}}, status=400)

    def line(r: dict[str, Any]) -> dict[str, Any]:
        if r["kind"] == "ok":
            return {"custom_id": r["custom_id"], "result": {"type": "succeeded", "message": r["body"]}}
        if r["kind"] == "errored":
            return {"custom_id": r["custom_id"], "result": {"type": "errored", "error": {
                "type": "error", "error": {"type": "api_error" if r["status"] >= 500 else "invalid_request_error",
                                           "message": r["error"]}}}}
        return {"custom_id": r["custom_id"], "result": {"type": {"cancelled": "canceled"}.get(r["kind"], r["kind"])}}

    lines = sim.damaged([line(r) for r in _final(batch)])
    body = b"".join((x if isinstance(x, str) else json.dumps(x)).encode() + b"\n" for x in lines)
    return web.Response(body=body, content_type="application/binary")


# ---- Gemini ---------------------------------------------------------------------------------
async def gemini_create(request: web.Request, model: str) -> web.Response:
    sim = request.app[BATCH]
    body = await request.json()
    batch_in = body.get("batch") if isinstance(body, dict) else None
    reqs = ((((batch_in or {}).get("inputConfig") or {}).get("requests") or {}).get("requests"))
    if not isinstance(reqs, list) or not reqs:
        return web.json_response({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                            "message": "batch.input_config.requests.requests: a non-empty list"}},
                                 status=400)
    items = [(str((r.get("metadata") or {}).get("key", i)), r.get("request") or {}) for i, r in enumerate(reqs)]
    batch = sim.create("gemini", items, model=model, display_name=(batch_in or {}).get("displayName", ""))
    return web.json_response(_gemini_object(request, batch))


def _gemini_object(request: web.Request, batch: SimBatch) -> dict[str, Any]:
    sim = request.app[BATCH]
    phase = batch.phase(sim.cfg, time.time())
    state = {"pending": "BATCH_STATE_PENDING", "in_progress": "BATCH_STATE_RUNNING",
             "cancelling": "BATCH_STATE_RUNNING", "failed": "BATCH_STATE_FAILED"}.get(
        phase, "BATCH_STATE_CANCELLED" if batch.cancelled_at is not None else "BATCH_STATE_SUCCEEDED")
    meta: dict[str, Any] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                            "name": f"batches/{batch.id}", "model": f"models/{batch.model}",
                            "displayName": batch.display_name, "state": state,
                            "createTime": _iso(batch.created), "updateTime": _iso(time.time())}
    out: dict[str, Any] = {"name": f"batches/{batch.id}", "metadata": meta}
    if phase == "ended":
        meta["endTime"] = _iso(batch.ended_at(sim.cfg))
        out["done"] = True
        if batch.cancelled_at is None:
            def item(r: dict[str, Any]) -> dict[str, Any]:
                md = {"key": r["custom_id"]}
                if r["kind"] == "ok":
                    return {"response": r["body"], "metadata": md}
                code, status = (4, "DEADLINE_EXCEEDED") if r["kind"] == "expired" else (13, "INTERNAL")
                return {"error": {"code": code, "message": r.get("error") or f"{status} (simulated)"}, "metadata": md}
            lines = [item(x) for x in sim.damaged(_final(batch)) if isinstance(x, dict)]  # inline: no non-JSON
            meta["output"] = {"inlinedResponses": {"inlinedResponses": lines}}
    return out


async def _gemini_get(request: web.Request) -> web.Response:
    return web.json_response(_gemini_object(request, _batch(request, "gemini")))


async def _gemini_cancel(request: web.Request) -> web.Response:
    name, _, action = request.match_info["batch_action"].partition(":")
    if action != "cancel":
        raise web.HTTPNotFound()
    batch = request.app[BATCH].batches.get(name)
    if batch is None:
        raise web.HTTPNotFound()
    _cancel(batch, request.app[BATCH].cfg)
    return web.json_response({})
