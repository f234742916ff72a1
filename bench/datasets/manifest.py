"""The manifest a build writes (one JSON object a line, byte-stable) and its checks.

Manifest line (exact key order; the harness reads it, ``bench/dataset.py``)::

    {"id", "image", "sha256", "width", "height", "content_type", "video",
     "shot", "timestamp_s", ["run",] "source": {"package", "version", "deb_sha256",
     "path", "licence"}, "reference"}

``run`` is present only for frames that belong to a run of consecutive frames
at a fixed rate (``{"id": "<source>-<shot>", "fps": 2.0, "index": 0}``), which
feed temporal-consistency metrics.

Reference captions are checked with the harness's own validity ladder
(:func:`bench.validity.assess` with the ClipTagger prompt's schema and rules,
``conf/prompt/cliptagger.yaml``), plus two stricter checks that only
hand-written references get: no hedging anywhere in the text ("appears to
be", "looks like", "seems to") and at least one object.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from bench.validity import assess, count_sentences

from .spec import ID_RE, SpecError

__all__ = ["MANIFEST_KEYS", "SOURCE_KEYS", "REFERENCE_KEYS", "read_jsonl", "render_manifest",
           "validate_reference", "validate_manifest_entry", "count_sentences", "prompt_config"]

MANIFEST_KEYS = ("id", "image", "sha256", "width", "height", "content_type", "video",
                 "shot", "timestamp_s", "source", "reference")
_KEYS_WITH_RUN = MANIFEST_KEYS[:9] + ("run",) + MANIFEST_KEYS[9:]
SOURCE_KEYS = ("package", "version", "deb_sha256", "path", "licence")
REFERENCE_KEYS = ("description", "objects", "actions", "environment", "content_type",
                  "specific_style", "production_quality", "summary", "logos")
RUN_KEYS = ("id", "fps", "index")
_PROMPT = Path(__file__).resolve().parents[2] / "conf" / "prompt" / "cliptagger.yaml"
_HEDGES = re.compile(r"\b(appears to be|looks like|seems to)\b", re.I)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SpecError(f"{path}:{n}: invalid JSON: {exc}") from exc
    return rows


def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def render_manifest(entries: list[dict]) -> str:
    """One JSON object per line, keys in MANIFEST_KEYS order: byte-stable."""
    lines = []
    for e in entries:
        keys = _KEYS_WITH_RUN if e.get("run") is not None else MANIFEST_KEYS
        ordered = {k: e[k] for k in keys}
        ordered["source"] = {k: e["source"][k] for k in SOURCE_KEYS}
        if ordered.get("run") is not None:
            ordered["run"] = {k: e["run"][k] for k in RUN_KEYS}
        if ordered["reference"] is not None:
            ordered["reference"] = {k: e["reference"][k] for k in REFERENCE_KEYS}
        lines.append(_dump(ordered))
    return "\n".join(lines) + ("\n" if lines else "")


@lru_cache(maxsize=1)
def prompt_config():
    """The ClipTagger prompt config (schema + rules) the harness scores captions with."""
    from omegaconf import OmegaConf

    from bench.config import PromptConfig

    merged = OmegaConf.merge(OmegaConf.structured(PromptConfig), OmegaConf.load(_PROMPT))
    return OmegaConf.to_object(merged)


def validate_reference(ref) -> list[str]:
    """Problems with a reference caption: the harness's ladder, then reference-only checks."""
    if not isinstance(ref, dict):
        return ["reference is not an object"]
    prompt = prompt_config()
    verdict, _ = assess(json.dumps(ref), "stop", prompt.json_schema, prompt.rules)
    problems = list(verdict.reasons)
    for k in ("objects", "actions", "logos"):
        v = ref.get(k)
        if isinstance(v, list) and not all(isinstance(x, str) and x.strip() for x in v):
            problems.append(f"{k}: blank item")
    if isinstance(ref.get("objects"), list) and not ref["objects"]:
        problems.append("objects: empty (a reference names what is visible)")
    for k in ("description", "summary"):
        if isinstance(ref.get(k), str) and _HEDGES.search(ref[k]):
            problems.append(f"{k}: hedges ('appears to be', 'looks like', 'seems to')")
    return problems


def validate_manifest_entry(e) -> list[str]:
    """Shape problems of one manifest object (used by tests and --check)."""
    if not isinstance(e, dict):
        return ["entry is not an object"]
    problems = []
    if tuple(e) not in (MANIFEST_KEYS, _KEYS_WITH_RUN):
        problems.append(f"keys {list(e)} != {list(MANIFEST_KEYS)} (optionally 'run' after 'timestamp_s')")
    if not ID_RE.match(str(e.get("id", ""))):
        problems.append(f"bad id {e.get('id')!r}")
    if e.get("image") != f"images/{e.get('id')}.jpg":
        problems.append("image must be images/<id>.jpg")
    if not re.fullmatch(r"[0-9a-f]{64}", str(e.get("sha256", ""))):
        problems.append("sha256 must be 64 hex digits")
    for k in ("width", "height"):
        if not isinstance(e.get(k), int) or e[k] <= 0:
            problems.append(f"{k} must be a positive int")
    video, ts = e.get("video"), e.get("timestamp_s")
    if (video is None) != (ts is None):
        problems.append("video and timestamp_s must both be set (video) or both null (still)")
    run = e.get("run")
    if run is not None and (not isinstance(run, dict) or tuple(run) != RUN_KEYS):
        problems.append(f"run must be an object with keys {list(RUN_KEYS)}")
    src = e.get("source")
    if not isinstance(src, dict) or tuple(src) != SOURCE_KEYS:
        problems.append(f"source keys must be {list(SOURCE_KEYS)}")
    if e.get("reference") is not None:
        problems += [f"reference: {p}" for p in validate_reference(e["reference"])]
    return problems
