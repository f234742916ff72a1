"""The LLM judge: the frame, the rubric and the candidate caption in; a strict-JSON verdict out.

Any configured backend can judge (conf/judge/: gemini-2.5-pro by default,
gpt-4.1, an OpenAI-compatible server such as a local vLLM, the simulator):
the request is an ordinary `CaptionRequest` (the frame re-read from the
run's dataset with the run's resize settings, the rubric as the prompt) sent
through the project's backends and its one retry policy (bench.retry).

- Verdict: {"score": 1-5, "rationale": str, "hallucinated": {field: [..]},
  "missed": {field: [..]}}. A verdict that is not that JSON is asked again
  (`judge.parse_retries` times), then recorded as a judge failure.
- Cache (bench.score.cache): looked up for every item before anything is
  started; only misses start a server, need a key, or send a request. Items
  are keyed by the run record's image hash, so a fully cached run does not
  even re-read its images. The key includes the endpoint; a simulator's
  verdict is served only to a judge configured as simulated, and any verdict
  that came from the simulator (fresh or cached) makes the scoring simulated.
- Single-flight: identical requests (same key) are sent once. Within a
  process the later askers await the first; across processes a claim in the
  cache (bench.score.cache.JudgeCache.claim) makes the later one wait for the
  verdict the first stores. Both count as `deduplicated`, not as requests.
- Accounting: tokens of every judge attempt (retries and unparsable
  verdicts included) and their cost at the judge's price, apart from the
  model's own tokens and cost.
- A fatal error (bad key, unknown model, no quota), or CONNECTION_STOP items
  in a row failing to connect (no network, a dead endpoint), stops the
  judging: what was judged is cached, so the same command continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from bench.backends import BASE_URL_SUFFIX, make_backend
from bench.backends.base import Backend, BackendError, CaptionRequest, Reasoning, Sampling
from bench.backends.families import check_request_shape
from bench.config import JudgeConfig
from bench.cost import cost_of_generation
from bench.frames import Frame, FrameError, encode_frame
from bench.retry import call_with_retry
from bench.score.cache import JudgeCache, cache_key, normalise_base_url, sha256_text
from bench.score.references import ScoreError
from bench.tasks import gather_all

_FENCE_PREFIXES = ("```json", "```JSON", "```")
# Items in a row whose requests failed to connect (after their retries) before judging stops: an endpoint
# that is down fails every item, and each would otherwise burn its full retry budget (minutes per frame).
CONNECTION_STOP = 3
_CONNECTION_KINDS = frozenset({"connection", "timeout"})


class JudgeStopped(ScoreError):
    """A fatal judge error (bad key, unknown model, no quota): judging stopped; verdicts so far are cached."""


class VerdictError(ValueError):
    """The judge's answer is not the verdict JSON the rubric asks for."""


@dataclass(frozen=True)
class JudgeItem:
    frame_id: str
    frame: Frame | None  # None when the dataset no longer lists it (then only a cache hit can judge it)
    image_sha256: str | None  # of the bytes the model was sent (the run record)
    caption_json: str  # the candidate exactly as the judge sees it
    reference_json: str | None = None


@dataclass
class EncodeSettings:
    max_side: int
    jpeg_quality: int
    max_pixels: int


@dataclass
class JudgeStats:
    # sent this time: every request of this scoring (retries and unparsable verdicts included)
    requests_sent: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    # what the verdicts used cost when they were obtained: cached (their stored usage) and new alike,
    # so re-scoring from the cache reports the same judging cost
    verdict_input_tokens: int = 0
    verdict_output_tokens: int = 0
    verdict_cost_usd: float | None = None
    image_mismatches: int = 0
    deduplicated: int = 0  # identical requests answered by one sent request (single-flight)
    simulated_verdicts: int = 0  # verdicts (fresh or cached) that came from capbench's simulator
    warnings: list[str] = field(default_factory=list)


def shows_reference(judge: JudgeConfig, reference_json: str | None) -> bool:
    """Whether the judge is shown this frame's reference: when asked to (with_reference), or, for a rubric that is
    reference-guided by default (v2), whenever the frame has one."""
    return judge.with_reference or (judge.rubric.reference_by_default and reference_json is not None)


def render_prompt(judge: JudgeConfig, caption_json: str, reference_json: str | None) -> str:
    rubric = judge.rubric
    section = ""
    if shows_reference(judge, reference_json):
        section = rubric.reference_section.replace("{{reference}}", reference_json or "(no reference for this frame)")
    return rubric.user.replace("{{reference_section}}", section).replace("{{candidate}}", caption_json)


def rubric_id(judge: JudgeConfig) -> str:
    """Version plus a hash of the text: an edited rubric never reuses old verdicts, even if not bumped."""
    text = judge.rubric.system + "\x00" + judge.rubric.user + "\x00" + judge.rubric.reference_section
    return f"{judge.rubric.name}@{judge.rubric.version}:{sha256_text(text)[:12]}"


def reasoning_of(judge: JudgeConfig) -> Reasoning:
    """How much a reasoning judge thinks (judge.model.sampling.reasoning_effort / thinking_budget / thinking_level),
    mapped per backend exactly as for a scored model (bench.backends)."""
    s = judge.model.sampling
    return Reasoning(effort=s.reasoning_effort, budget=s.thinking_budget, level=s.thinking_level)


def request_problems(judge: JudgeConfig) -> list[str]:
    """What the judge's model will refuse in its request (bench.backends.families.check_request_shape, the rules
    the models are held to), as judge.* settings with their fix; [] when judge.model.check_request=false."""
    if not judge.model.check_request:
        return []
    problems = check_request_shape(judge.model.backend, judge.model.name, judge.model.sampling)
    return [p.replace("model.", "judge.model.") for p in problems]


def sampling_of(judge: JudgeConfig) -> Sampling:
    s = judge.model.sampling
    return Sampling(temperature=s.temperature, max_tokens=s.max_tokens, top_p=s.top_p, seed=s.seed,
                    response_format=s.response_format, image_detail=s.image_detail)


def json_object(text: str) -> dict[str, Any]:
    """A judge's answer as a strict JSON object (a code fence around it is tolerated); VerdictError if not."""
    body = text.strip()
    for prefix in _FENCE_PREFIXES:
        if body.startswith(prefix) and body.endswith("```") and len(body) > len(prefix) + 3:
            body = body[len(prefix):-3].strip()
            break
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise VerdictError(f"not JSON ({exc.msg} at char {exc.pos}): {text[:80]!r}") from exc
    if not isinstance(value, dict):
        raise VerdictError(f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_verdict(text: str) -> dict[str, Any]:
    """Strict JSON object (a code fence around it is tolerated); score a number in [1, 5]."""
    value = json_object(text)
    score = value.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 1 <= score <= 5:
        raise VerdictError(f"'score' must be a number from 1 to 5, got {score!r}")
    out: dict[str, Any] = {"score": float(score), "rationale": str(value.get("rationale") or "")}
    for key in ("hallucinated", "missed"):
        items = value.get(key) or {}
        if not isinstance(items, dict) or not all(isinstance(v, list) for v in items.values()):
            raise VerdictError(f"'{key}' must be an object of field -> list of strings")
        out[key] = {str(k): [str(x) for x in v] for k, v in items.items() if v}
    return out


def _typed(cfg: JudgeConfig | DictConfig) -> JudgeConfig:
    if isinstance(cfg, JudgeConfig):
        return cfg
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(JudgeConfig), cfg))  # type: ignore[return-value]
    except MissingMandatoryValue as exc:
        raise ScoreError(f"the judge config leaves judge.{exc.full_key} unset: pass judge.{exc.full_key}=...") from exc


def endpoint_of(judge: JudgeConfig) -> str:
    """Where the verdicts come from, for the cache key and the scoring's identity (no credentials)."""
    m = judge.model
    if m.serve == "sim":
        sim = OmegaConf.to_container(OmegaConf.structured(m.sim)) if not isinstance(m.sim, dict) else m.sim
        return "simulator:" + sha256_text(json.dumps(sim, sort_keys=True, default=str))[:12]
    return normalise_base_url(m.base_url)


class ProgressHook(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, answer: dict[str, Any]) -> None: ...


class Judge:
    def __init__(self, cfg: JudgeConfig | DictConfig, *, cache: JudgeCache, encode: EncodeSettings,
                 log_dir: Path, sim_references: str | None = None, progress: ProgressHook | None = None) -> None:
        self.cfg = _typed(cfg)
        if self.cfg.repeats < 1:
            raise ScoreError(f"judge.repeats={self.cfg.repeats}: must be at least 1")
        if self.cfg.model.backend not in BASE_URL_SUFFIX:
            raise ScoreError(f"judge.model.backend={self.cfg.model.backend!r}: use one of {', '.join(BASE_URL_SUFFIX)}")
        problems = request_problems(self.cfg)  # refused before anything is sent, like a model's (bench.app)
        if problems:
            raise ScoreError(f"judge {self.cfg.label!r}: the request would be refused: " + "; ".join(problems)
                             + " (judge.model.check_request=false sends it anyway)")
        self.cache = cache
        self.encode = encode
        self.log_dir = log_dir
        self.sim_references = sim_references
        self.sampling = sampling_of(self.cfg)
        self.reasoning = reasoning_of(self.cfg)
        self.rubric = rubric_id(self.cfg)
        self.stats = JudgeStats()
        self._rng = random.Random(0)
        self.progress = progress  # told the number of requests to make, then each answer
        self.endpoint = endpoint_of(self.cfg)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._connection_failures = 0  # items in a row that could not reach the judge

    # ---- keys ------------------------------------------------------------------------------------
    def _parts(self, item: JudgeItem, repeat: int) -> dict[str, Any]:
        return {"judge": f"{self.cfg.model.backend}:{self.cfg.model.name}", "endpoint": self.endpoint,
                "rubric": self.rubric,
                "image_sha256": item.image_sha256 or "", "caption_sha256": sha256_text(item.caption_json),
                "reference_sha256": sha256_text(item.reference_json)
                if item.reference_json and shows_reference(self.cfg, item.reference_json) else "",
                "sampling": asdict(self.sampling), "repeat": repeat,
                # only when set: keys of judges without reasoning settings stay as they were (cached verdicts)
                **({"reasoning": asdict(self.reasoning)} if self.reasoning != Reasoning() else {})}

    # ---- the question (bench.score.pairwise asks another) ---------------------------------------------
    def _prompt(self, item: JudgeItem) -> str:
        return render_prompt(self.cfg, item.caption_json, item.reference_json)

    def _parse(self, text: str) -> dict[str, Any]:
        return parse_verdict(text)

    # ---- public ----------------------------------------------------------------------------------
    def judge(self, items: list[JudgeItem]) -> dict[str, dict[str, Any]]:
        """Verdicts per frame id: {"score", "scores", "rationale", "hallucinated", "missed", "failure", "cached"}."""
        answers: dict[tuple[str, int], dict[str, Any]] = {}
        misses: list[tuple[JudgeItem, int, str, dict[str, Any]]] = []
        for item in items:
            for r in range(self.cfg.repeats):
                parts = self._parts(item, r)
                key = cache_key(parts)
                hit = self.cache.get(key, allow_simulated=self.cfg.model.simulated) if item.image_sha256 else None
                if hit is not None:
                    answers[(item.frame_id, r)] = {"verdict": hit["verdict"], "cached": True}
                    self.stats.cache_hits += 1
                    self.stats.simulated_verdicts += bool(hit.get("simulated"))
                    self._add_verdict_usage(hit.get("usage"))
                else:
                    misses.append((item, r, key, parts))
        if misses:
            with self._serving() as base_url:
                asyncio.run(self._judge_misses(misses, base_url, answers))
        self._price()
        return {item.frame_id: self._combine([answers[(item.frame_id, r)] for r in range(self.cfg.repeats)])
                for item in items}

    # ---- sending ---------------------------------------------------------------------------------
    def _api_key(self) -> str:
        m = self.cfg.model
        if m.serve == "sim":
            return "sim-key"
        if not m.api_key_env:
            return "EMPTY"
        key = os.environ.get(m.api_key_env, "").strip()
        if not key:
            raise ScoreError(f"judge {self.cfg.label!r} needs an API key: set {m.api_key_env} (export "
                             f"{m.api_key_env}=...) or choose another judge (judge=NAME, see conf/judge/)")
        return key

    @contextlib.contextmanager
    def _serving(self) -> Iterator[str | None]:
        m = self.cfg.model
        if m.serve != "sim":
            if not m.base_url and m.backend == "openai_chat" and not m.api_key_env:
                raise ScoreError("judge.model.base_url is empty: set judge.model.base_url=http://HOST:PORT/v1")
            yield m.base_url
            return
        from bench.server_process import start_simulator

        sim = m.sim
        if not sim.references and self.sim_references:
            sim.references = self.sim_references  # the sim judge's "truth": the run's dataset references
        with start_simulator(sim, self.log_dir / "judge_server.log") as server:
            yield server.base_url + BASE_URL_SUFFIX[m.backend]

    async def _judge_misses(self, misses: list[tuple[JudgeItem, int, str, dict[str, Any]]], base_url: str | None,
                            answers: dict[tuple[str, int], dict[str, Any]]) -> None:
        api_key = self._api_key()
        backend = make_backend(self.cfg.model, base_url=base_url, api_key=api_key)
        limit = asyncio.Semaphore(max(1, self.cfg.concurrency))
        fatal: list[BackendError] = []
        images: dict[str, Any] = {}
        inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}

        async def one(item: JudgeItem, repeat: int, key: str, parts: dict[str, Any]) -> None:
            if key in inflight:  # the same question is already being asked: wait for its answer
                answer = await asyncio.shield(inflight[key])
                self.stats.deduplicated += "verdict" in answer
                answers[(item.frame_id, repeat)] = self._shared(answer)
                return
            inflight[key] = asyncio.get_running_loop().create_future()
            try:
                async with limit:
                    if fatal:
                        answer = {"failure": "not judged: judging stopped early"}
                    else:
                        answer = await self._single_flight(backend, item, key, parts, images, fatal)
            except BaseException:
                inflight[key].set_result({"failure": "not judged: judging stopped early"})
                raise
            inflight[key].set_result(answer)
            answers[(item.frame_id, repeat)] = answer
            if self.progress is not None:
                self.progress.advance(answer)

        if self.progress is not None:
            self.progress.start(len({m[2] for m in misses}))
        try:
            await gather_all(one(*m) for m in misses)
        finally:
            await backend.aclose()
        if fatal:
            done = sum(1 for a in answers.values() if "verdict" in a)
            raise JudgeStopped(f"judge {self.cfg.label!r} stopped: {fatal[0].message} ({fatal[0].kind}). {done} "
                               "verdicts are cached; fix it and run the same command to continue.")

    @staticmethod
    def _shared(answer: dict[str, Any]) -> dict[str, Any]:
        """A verdict obtained for an identical request: reused, not paid again."""
        if "verdict" in answer:
            return {**answer, "cached": True, "deduplicated": True}
        return dict(answer)

    async def _single_flight(self, backend: Backend, item: JudgeItem, key: str, parts: dict[str, Any],
                             images: dict[str, Any], fatal: list[BackendError]) -> dict[str, Any]:
        """Ask, unless another process is asking the same question right now: then wait for its verdict."""
        if not item.image_sha256:  # uncacheable: nothing to share
            return await self._ask(backend, item, key, parts, images, fatal)
        wait_s = self.cfg.request_timeout_s * (self.cfg.retry.max_attempts + 1) * (1 + self.cfg.parse_retries)
        deadline = asyncio.get_running_loop().time() + wait_s
        while not self.cache.claim(key, self._owner, ttl_s=wait_s):
            hit = self.cache.get(key, allow_simulated=self.cfg.model.simulated)
            if hit is not None:
                self.stats.deduplicated += 1
                self.stats.simulated_verdicts += bool(hit.get("simulated"))
                self._add_verdict_usage(hit.get("usage"))
                return {"verdict": hit["verdict"], "cached": True, "deduplicated": True}
            if asyncio.get_running_loop().time() > deadline:
                break  # the other process is stuck: ask ourselves
            await asyncio.sleep(0.1)
        try:
            hit = self.cache.get(key, allow_simulated=self.cfg.model.simulated)  # stored while we claimed
            if hit is not None:
                self.stats.deduplicated += 1
                self.stats.simulated_verdicts += bool(hit.get("simulated"))
                self._add_verdict_usage(hit.get("usage"))
                return {"verdict": hit["verdict"], "cached": True, "deduplicated": True}
            return await self._ask(backend, item, key, parts, images, fatal)
        finally:
            self.cache.release(key, self._owner)

    async def _image(self, item: JudgeItem, images: dict[str, Any]) -> Any:
        if item.frame_id not in images:
            if item.frame is None:
                raise FrameError(f"frame {item.frame_id!r} is no longer in the run's dataset")
            e = self.encode
            image = await asyncio.to_thread(encode_frame, item.frame, e.max_side, e.jpeg_quality, e.max_pixels)
            if item.image_sha256 and image.sha256 != item.image_sha256:
                self.stats.image_mismatches += 1  # the file changed since the run, or another Pillow encodes it
            images[item.frame_id] = image
        return images[item.frame_id]

    async def _ask(self, backend: Backend, item: JudgeItem, key: str, parts: dict[str, Any],
                   images: dict[str, Any], fatal: list[BackendError]) -> dict[str, Any]:
        try:
            image = await self._image(item, images)
        except FrameError as exc:
            return {"failure": f"frame unreadable: {exc}"}
        request = CaptionRequest(image=image, system=self.cfg.rubric.system, user=self._prompt(item),
                                 sampling=self.sampling, reasoning=self.reasoning)
        spent_in = spent_out = 0
        problem = ""
        for _ in range(1 + max(0, self.cfg.parse_retries)):
            outcome = await call_with_retry(lambda: backend.generate(request), self.cfg.retry,
                                            self.cfg.request_timeout_s, self._rng)
            self.stats.requests_sent += len(outcome.attempts)
            attempt_in = sum(a.input_tokens or 0 for a in outcome.attempts)
            attempt_out = sum(a.output_tokens or 0 for a in outcome.attempts)
            spent_in, spent_out = spent_in + attempt_in, spent_out + attempt_out
            self.stats.input_tokens += attempt_in
            self.stats.output_tokens += attempt_out
            if outcome.response is None:
                err = outcome.error or BackendError("connection", "no response")
                if err.kind in _CONNECTION_KINDS:
                    self._connection_failures += 1
                    if self._connection_failures >= CONNECTION_STOP and not fatal:
                        fatal.append(BackendError(err.kind, f"{CONNECTION_STOP} items in a row could not reach the "
                                                            f"judge at {self.endpoint} (last: {err.message})"))
                if err.fatal:
                    fatal.append(err)
                return {"failure": f"judge request failed: {err.kind}: {err.message}"}
            self._connection_failures = 0
            simulated = bool(outcome.response.simulated)
            try:
                verdict = self._parse(outcome.response.text)
            except VerdictError as exc:
                problem = str(exc)
                continue
            usage = {"input_tokens": spent_in, "output_tokens": spent_out}
            self._add_verdict_usage(usage)
            self.stats.simulated_verdicts += simulated
            if item.image_sha256:
                self.cache.put(key, parts, verdict, usage, simulated=simulated)
            return {"verdict": verdict, "cached": False}
        return {"failure": f"unparsable verdict after {1 + max(0, self.cfg.parse_retries)} requests: {problem}"}

    # ---- results ---------------------------------------------------------------------------------
    def _add_verdict_usage(self, usage: dict[str, Any] | None) -> None:
        usage = usage if isinstance(usage, dict) else {}
        self.stats.verdict_input_tokens += int(usage.get("input_tokens") or 0)
        self.stats.verdict_output_tokens += int(usage.get("output_tokens") or 0)

    def _price(self) -> None:
        price = self.cfg.model.price
        if price.input_per_million is not None and price.output_per_million is not None:
            st = self.stats
            st.cost_usd = cost_of_generation(st.input_tokens, st.output_tokens, price.input_per_million,
                                             price.output_per_million)
            st.verdict_cost_usd = cost_of_generation(st.verdict_input_tokens, st.verdict_output_tokens,
                                                     price.input_per_million, price.output_per_million)

    @staticmethod
    def _combine(answers: list[dict[str, Any]]) -> dict[str, Any]:
        good = [a["verdict"] for a in answers if "verdict" in a]
        failures = [a["failure"] for a in answers if "failure" in a]
        first = good[0] if good else {}
        failure = None
        if failures and not good:
            failure = failures[0]
        elif failures:
            failure = f"{len(failures)} of {len(answers)} repeats failed: {failures[0]}"
        scores = [v["score"] for v in good]
        return {"score": sum(scores) / len(scores) if scores else None, "scores": scores,
                "rationale": first.get("rationale", ""), "hallucinated": first.get("hallucinated", {}),
                "missed": first.get("missed", {}), "failure": failure,
                "cached": bool(answers) and all(a.get("cached") for a in answers)}
