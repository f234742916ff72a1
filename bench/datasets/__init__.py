"""Frame datasets built reproducibly from pinned Debian packages.

A dataset lives in ``datasets/<name>/`` and is described by ``sources.yaml``
(the pinned spec).  ``python -m bench.datasets build <name>`` fetches each
pinned .deb (``bench.datasets.debian``), unpacks it, cuts the listed frames
(``bench.datasets.frames``: sequential decode, no seeking), resizes them, writes
deterministic JPEGs to ``images/``, and writes ``manifest.jsonl`` (one JSON
object per frame, merged with the hand-written ``references.jsonl``) and
``NOTICE.md``.  Everything here is generic: the sample and a larger set such as
frames1k differ only in their spec (and, for frames1k, a frame *selector* such
as shot detection registered with :func:`register_selector`).

Spec format (YAML)::

    dataset: sample
    output: {max_side: 640, jpeg_quality: 85, require_references: true}
    built_with: {pillow: 13.0.0, av: 18.1.0, ...}   # versions that pin the bytes
    packages:
      opencv-doc:
        version: 4.6.0+dfsg-12
        sha256: <sha256 of the .deb>
        size: 95715012                      # optional, bytes
    sources:
      - name: vtest                         # id prefix: [a-z0-9._-]
        package: opencv-doc
        path: usr/share/doc/opencv-doc/examples/data/vtest.avi
        kind: video                         # video | still
        content_type: real-world footage
        licence: Apache-2.0 AND BSD-3-Clause
        licence_evidence: "License: Apache-2.0 AND BSD-3-Clause"  # must occur in the copyright file
        attribution: "2000-2022, Intel Corporation"               # must occur there too
        timestamps: [56.0]                  # or frames: [{t: 56.0, shot: s01}]

Manifest line (exact key order; the harness reads it)::

    {"id", "image", "sha256", "width", "height", "content_type", "video",
     "shot", "timestamp_s", "source": {"package", "version", "deb_sha256",
     "path", "licence"}, "reference"}
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from PIL import Image

from .debian import (
    DebianError,
    DebPin,
    PackageNotFound,
    apt_get_download,
    fetch_deb,
    member_path,
    read_copyright,
    unpack_deb,
)
from .frames import (
    DecodeError,
    encode_jpeg,
    frame_stats,
    frames_at,
    load_still,
    looks_blank,
    resize_long_side,
    sha256_bytes,
    sha256_file,
    tool_versions,
    write_bytes_if_changed,
)

__all__ = [
    "SpecError",
    "DatasetSpec",
    "SourceSpec",
    "FrameSpec",
    "PackageSpec",
    "BuildReport",
    "load_spec",
    "find_spec",
    "frame_id",
    "register_selector",
    "build",
    "render_manifest",
    "read_jsonl",
    "validate_reference",
    "validate_manifest_entry",
    "count_sentences",
    "ID_RE",
    "REFERENCE_KEYS",
    "MANIFEST_KEYS",
    "CONTENT_TYPES",
]

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
MANIFEST_KEYS = ("id", "image", "sha256", "width", "height", "content_type", "video",
                 "shot", "timestamp_s", "source", "reference")
SOURCE_KEYS = ("package", "version", "deb_sha256", "path", "licence")
REFERENCE_KEYS = ("description", "objects", "actions", "environment", "content_type",
                  "specific_style", "production_quality", "summary", "logos")
# Coarse categories used to slice results; a spec may use others (a warning).
CONTENT_TYPES = ("real-world footage", "archival film", "CGI animation", "video game",
                 "screen recording", "photograph", "slides/text", "motion graphics")

DEFAULT_CACHE = Path(".cache/debs")


class SpecError(ValueError):
    """The sources.yaml is malformed (all problems are listed)."""


# --------------------------------------------------------------------------- spec

@dataclass(frozen=True)
class PackageSpec:
    pin: DebPin
    size: int | None = None


@dataclass(frozen=True)
class FrameSpec:
    id: str
    timestamp_s: float | None
    shot: str | None
    content_type: str


@dataclass
class SourceSpec:
    name: str
    package: str
    path: str
    kind: str  # video | still
    content_type: str
    licence: str
    licence_evidence: str | None = None
    attribution: str | None = None
    licence_file: str | None = None  # default usr/share/doc/PKG/copyright (.gz is read too)
    attribution_file: str | None = None  # default: licence_file
    rotate: int = 0
    allow_blank: bool = False
    select: dict = field(default_factory=dict)  # raw selector config
    frames: list[FrameSpec] = field(default_factory=list)

    @property
    def video_ref(self) -> str | None:
        return f"{self.package}:{Path(self.path).name}" if self.kind == "video" else None


@dataclass
class DatasetSpec:
    name: str
    dir: Path
    packages: dict[str, PackageSpec]
    sources: list[SourceSpec]
    max_side: int = 640
    jpeg_quality: int = 85
    require_references: bool = False
    built_with: dict = field(default_factory=dict)
    title: str = ""

    images_dir = property(lambda self: self.dir / "images")
    manifest_path = property(lambda self: self.dir / "manifest.jsonl")
    references_path = property(lambda self: self.dir / "references.jsonl")
    notice_path = property(lambda self: self.dir / "NOTICE.md")

    def frames(self) -> Iterable[tuple[SourceSpec, FrameSpec]]:
        for src in self.sources:
            for fr in src.frames:
                yield src, fr


def frame_id(name: str, timestamp_s: float | None) -> str:
    """Stable id: ``NAME-tSSS.s`` for video frames (``vtest-t012.0``), NAME for stills."""
    if timestamp_s is None:
        return name
    t = float(timestamp_s)
    if abs(t * 10 - round(t * 10)) < 1e-9:
        return f"{name}-t{t:05.1f}"
    return f"{name}-t{t:07.3f}"


# Selectors turn a source's config into frames.  Built in: explicit timestamps
# (video) and the still itself.  A later spec (frames1k) can register e.g.
# "shots" that runs shot detection on the unpacked video; such selectors get
# the video path and return (timestamp_s, shot) pairs at build time.
Selector = Callable[[SourceSpec, Path], list[tuple[float | None, str | None]]]
_SELECTORS: dict[str, Selector] = {}


def register_selector(name: str, fn: Selector) -> None:
    _SELECTORS[name] = fn


def _ts_list(raw, where: str, problems: list[str]) -> list[tuple[float, str | None]]:
    out = []
    for item in raw or []:
        if isinstance(item, dict):
            t, shot = item.get("t"), item.get("shot")
        else:
            t, shot = item, None
        try:
            t = float(t)
        except (TypeError, ValueError):
            problems.append(f"{where}: bad timestamp {item!r}")
            continue
        if t < 0:
            problems.append(f"{where}: negative timestamp {t}")
        out.append((t, None if shot is None else str(shot)))
    return out


def load_spec(path: str | os.PathLike) -> DatasetSpec:
    """Parse and validate a ``sources.yaml``; raise SpecError listing every problem."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"no spec at {path}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: top level must be a mapping")
    problems: list[str] = []
    out = raw.get("output") or {}
    packages: dict[str, PackageSpec] = {}
    for pkg, p in (raw.get("packages") or {}).items():
        try:
            packages[pkg] = PackageSpec(DebPin(pkg, str(p["version"]), str(p["sha256"])),
                                        p.get("size"))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"package {pkg}: {exc}")
    sources: list[SourceSpec] = []
    seen: dict[str, str] = {}
    for i, s in enumerate(raw.get("sources") or []):
        where = f"sources[{i}]"
        if not isinstance(s, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        name = str(s.get("name", ""))
        where = f"source {name or i}"
        for key in ("name", "package", "path", "kind", "content_type", "licence"):
            if not s.get(key):
                problems.append(f"{where}: missing '{key}'")
        if name and not ID_RE.match(name):
            problems.append(f"{where}: name must match {ID_RE.pattern}")
        if s.get("package") and s["package"] not in packages:
            problems.append(f"{where}: package {s['package']} is not pinned under 'packages'")
        kind = s.get("kind")
        if kind not in ("video", "still"):
            problems.append(f"{where}: kind must be 'video' or 'still'")
        rotate = int(s.get("rotate", 0) or 0)
        if rotate % 90:
            problems.append(f"{where}: rotate must be a multiple of 90")
        src = SourceSpec(
            name=name, package=str(s.get("package", "")), path=str(s.get("path", "")).lstrip("/"),
            kind=str(kind), content_type=str(s.get("content_type", "")),
            licence=str(s.get("licence", "")), licence_evidence=s.get("licence_evidence"),
            attribution=s.get("attribution"), licence_file=s.get("licence_file"),
            attribution_file=s.get("attribution_file"), rotate=rotate,
            allow_blank=bool(s.get("allow_blank", False)), select=dict(s.get("select") or {}))
        if kind == "video":
            pairs = _ts_list(s.get("timestamps"), where, problems) + \
                _ts_list(s.get("frames"), where, problems)
            if not pairs and not src.select:
                problems.append(f"{where}: a video needs 'timestamps', 'frames' or 'select'")
            if src.select and src.select.get("method") not in _SELECTORS:
                problems.append(f"{where}: unknown selector {src.select.get('method')!r} "
                                f"(registered: {sorted(_SELECTORS) or 'none'})")
            for t, shot in pairs:
                src.frames.append(FrameSpec(frame_id(name, t), t, shot, src.content_type))
        elif kind == "still":
            src.frames.append(FrameSpec(name, None, None, src.content_type))
        for fr in src.frames:
            if fr.id in seen:
                problems.append(f"{where}: duplicate frame id {fr.id} (also in {seen[fr.id]})")
            seen[fr.id] = where
        sources.append(src)
    if not sources:
        problems.append("no sources")
    if problems:
        raise SpecError(f"{path}:\n  " + "\n  ".join(problems))
    return DatasetSpec(
        name=str(raw.get("dataset") or path.parent.name), dir=path.parent, packages=packages,
        sources=sources, max_side=int(out.get("max_side", 640)),
        jpeg_quality=int(out.get("jpeg_quality", 85)),
        require_references=bool(out.get("require_references", False)),
        built_with=dict(raw.get("built_with") or {}), title=str(raw.get("title", "")))


def find_spec(name: str, root: str | os.PathLike | None = None) -> Path:
    """``datasets/<name>/sources.yaml`` under ``root`` (default: ./datasets or the repo's)."""
    candidates = [Path(root)] if root else [Path("datasets"),
                                            Path(__file__).resolve().parents[2] / "datasets"]
    for base in candidates:
        p = base / name / "sources.yaml"
        if p.is_file():
            return p
    raise SpecError(f"no dataset spec '{name}' (looked for {name}/sources.yaml in "
                    f"{', '.join(str(c) for c in candidates)})")


# ----------------------------------------------------------------------- manifest

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
        ordered = {k: e[k] for k in MANIFEST_KEYS}
        ordered["source"] = {k: e["source"][k] for k in SOURCE_KEYS}
        if ordered["reference"] is not None:
            ordered["reference"] = {k: e["reference"][k] for k in REFERENCE_KEYS}
        lines.append(_dump(ordered))
    return "\n".join(lines) + ("\n" if lines else "")


_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?=\s+[A-Z0-9\"'(]|\s*$)")
_LEAD_INS = re.compile(r"^\s*(this|the)\s+(image|frame|keyframe|picture|photo|screenshot|video)"
                       r"\s+(shows|displays|depicts|is|contains|features)", re.I)
_HEDGES = re.compile(r"\b(appears to be|looks like|seems to)\b", re.I)


def count_sentences(text: str) -> int:
    """Sentence count for the prompt's limits (abbreviation-naive but conservative)."""
    text = text.strip()
    if not text:
        return 0
    n = len(_SENTENCE_END.findall(text))
    return n if text[-1] in ".!?\"')]" else n + 1


def validate_reference(ref) -> list[str]:
    """Problems with a caption object under the ClipTagger prompt's rules."""
    if not isinstance(ref, dict):
        return ["reference is not an object"]
    problems = []
    keys = set(ref)
    if keys != set(REFERENCE_KEYS):
        missing, extra = set(REFERENCE_KEYS) - keys, keys - set(REFERENCE_KEYS)
        if missing:
            problems.append(f"missing keys {sorted(missing)}")
        if extra:
            problems.append(f"extra keys {sorted(extra)}")
    for k in ("description", "environment", "content_type", "specific_style",
              "production_quality", "summary"):
        if k in ref and (not isinstance(ref[k], str) or not ref[k].strip()):
            problems.append(f"{k} must be a non-empty string")
    for k, limit in (("objects", 10), ("actions", 5), ("logos", None)):
        v = ref.get(k)
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            problems.append(f"{k} must be an array of non-empty strings")
        elif limit is not None and len(v) > limit:
            problems.append(f"{k} has {len(v)} items (max {limit})")
    if isinstance(ref.get("objects"), list) and not ref["objects"]:
        problems.append("objects is empty")
    for k in ("description", "summary"):
        if isinstance(ref.get(k), str):
            if _LEAD_INS.search(ref[k]):
                problems.append(f"{k} starts with a banned lead-in")
            if _HEDGES.search(ref[k]):
                problems.append(f"{k} hedges ('appears to be', 'looks like')")
    if isinstance(ref.get("description"), str) and count_sentences(ref["description"]) > 4:
        problems.append(f"description has {count_sentences(ref['description'])} sentences (max 4)")
    if isinstance(ref.get("summary"), str) and count_sentences(ref["summary"]) != 1:
        problems.append(f"summary has {count_sentences(ref['summary'])} sentences (must be 1)")
    return problems


def validate_manifest_entry(e) -> list[str]:
    """Shape problems of one manifest object (used by tests and --check)."""
    if not isinstance(e, dict):
        return ["entry is not an object"]
    problems = []
    if tuple(e) != MANIFEST_KEYS:
        problems.append(f"keys {list(e)} != {list(MANIFEST_KEYS)}")
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
    src = e.get("source")
    if not isinstance(src, dict) or tuple(src) != SOURCE_KEYS:
        problems.append(f"source keys must be {list(SOURCE_KEYS)}")
    if e.get("reference") is not None:
        problems += [f"reference: {p}" for p in validate_reference(e["reference"])]
    return problems


# -------------------------------------------------------------------------- build

@dataclass
class BuildReport:
    dataset: str
    mode: str  # build | check
    frames: int = 0
    written: int = 0
    unchanged: int = 0
    rebuilt_ok: int = 0  # check mode: regenerated and byte-identical
    hashed_only: int = 0  # check mode: .deb absent, image hash compared
    downloaded_bytes: int = 0
    cached_packages: int = 0
    fetched_packages: int = 0
    elapsed_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        mb = self.downloaded_bytes / 1e6
        lines = [f"{self.mode} {self.dataset}: {self.frames} frames"]
        if self.mode == "build":
            lines.append(f"  images written: {self.written}, unchanged: {self.unchanged}")
            lines.append(f"  files written: {', '.join(self.files_written) or 'none'}")
            lines.append(f"  packages: {self.fetched_packages} downloaded, "
                         f"{self.cached_packages} from cache; downloaded {self.downloaded_bytes} "
                         f"bytes ({mb:.1f} MB)")
        else:
            lines.append(f"  rebuilt byte-identical: {self.rebuilt_ok}, "
                         f"hash-checked only (no .deb in cache): {self.hashed_only}")
        lines.append(f"  time: {self.elapsed_s:.1f} s")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        for f in self.failures:
            lines.append(f"  FAILED: {f}")
        lines.append("  result: " + ("OK" if self.ok else f"{len(self.failures)} failure(s)"))
        return "\n".join(lines)


def _norm_ws(s: str) -> str:
    return " ".join(s.split())


def _apt_update() -> bool:
    try:
        proc = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
    except FileNotFoundError:
        return False
    return proc.returncode == 0


def _entry(spec: DatasetSpec, src: SourceSpec, fr: FrameSpec, sha: str, w: int, h: int,
           reference) -> dict:
    pin = spec.packages[src.package].pin
    return {
        "id": fr.id,
        "image": f"images/{fr.id}.jpg",
        "sha256": sha,
        "width": w,
        "height": h,
        "content_type": fr.content_type,
        "video": src.video_ref,
        "shot": fr.shot,
        "timestamp_s": fr.timestamp_s,
        "source": {"package": pin.package, "version": pin.version, "deb_sha256": pin.sha256,
                   "path": src.path, "licence": src.licence},
        "reference": reference,
    }


def _jpeg_size(fp) -> tuple[int, int]:
    with Image.open(fp) as im:
        return im.size


def build(spec: DatasetSpec, cache_dir: str | os.PathLike = DEFAULT_CACHE, *,
          check: bool = False, offline: bool = False, downloader=apt_get_download,
          log: Callable[[str], None] = print) -> BuildReport:
    """Build (or with ``check=True`` verify) a dataset from its spec.

    Build: fetch/unpack every pinned package, cut and write the frames, then
    write manifest.jsonl and NOTICE.md; files whose bytes would not change are
    not touched.  One failing package or source is reported and the rest is
    still built; its frames keep their committed images and manifest lines.

    Check: never downloads or writes.  Sources whose .deb is in the cache are
    regenerated in memory and compared byte for byte; the others only have
    their committed image hashed.  The manifest and NOTICE must match what a
    build would write.
    """
    t0 = time.monotonic()
    report = BuildReport(spec.name, "check" if check else "build")
    offline = offline or check
    cache_dir = Path(cache_dir)
    versions = tool_versions()
    if spec.built_with:
        drift = {k: (v, versions.get(k)) for k, v in spec.built_with.items()
                 if str(versions.get(k)) != str(v)}
        if drift:
            report.warnings.append(
                "tool versions differ from built_with, images may not be byte-identical: " +
                ", ".join(f"{k} {a} -> {b}" for k, (a, b) in drift.items()))

    references = {}
    try:
        ref_rows = read_jsonl(spec.references_path)
    except SpecError as exc:
        report.failures.append(str(exc))
        ref_rows = []
    for row in ref_rows:
        if not isinstance(row, dict) or "id" not in row or "reference" not in row:
            report.failures.append(f"{spec.references_path.name}: line without id/reference")
            continue
        references[row["id"]] = row["reference"]
    try:
        previous = {e.get("id"): e for e in read_jsonl(spec.manifest_path) if isinstance(e, dict)}
    except SpecError as exc:
        report.warnings.append(f"ignoring the existing manifest: {exc}")
        previous = {}

    # 1. packages
    unpacked: dict[str, Path] = {}
    pkg_errors: dict[str, str] = {}
    updated = False
    needed = list(dict.fromkeys(s.package for s in spec.sources))
    for pkg in needed:
        pin = spec.packages[pkg].pin
        try:
            try:
                res = fetch_deb(pin, cache_dir, downloader=downloader, offline=offline)
            except PackageNotFound:
                if offline or updated or downloader is not apt_get_download:
                    raise
                log("apt-get cannot find a pinned package; running 'apt-get update' once")
                updated = True
                _apt_update()
                res = fetch_deb(pin, cache_dir, downloader=downloader, offline=offline)
            if res.downloaded_bytes:
                report.fetched_packages += 1
                report.downloaded_bytes += res.downloaded_bytes
                log(f"fetched {pin.package}={pin.version} ({res.downloaded_bytes / 1e6:.1f} MB)")
            else:
                report.cached_packages += 1
            unpacked[pkg] = unpack_deb(res.path, cache_dir / "unpacked" /
                                       res.path.name[:-4], sha256=pin.sha256)
        except DebianError as exc:
            pkg_errors[pkg] = str(exc)
            if check and isinstance(exc, PackageNotFound):
                continue  # expected offline: fall back to hashing committed images
            report.failures.append(str(exc))

    # 2. frames
    entries: list[dict] = []
    for src in spec.sources:
        produced: dict[str, bytes] = {}
        err = pkg_errors.get(src.package)
        if err is None:
            try:
                produced = _cut_source(spec, src, unpacked[src.package], report)
            except (DebianError, DecodeError, OSError, ValueError) as exc:
                err = f"source {src.name} ({src.package}:{src.path}): {exc}"
                report.failures.append(err)
        if src.select and not produced:
            # selector-driven source not regenerated: keep the frames it had last time
            src.frames = [FrameSpec(e["id"], e["timestamp_s"], e["shot"], e["content_type"])
                          for e in previous.values()
                          if e.get("video") == src.video_ref
                          and str(e.get("id", "")).startswith(src.name + "-t")]
        report.frames += len(src.frames)
        for fr in src.frames:
            img_path = spec.images_dir / f"{fr.id}.jpg"
            ref = references.get(fr.id)
            if spec.require_references and ref is None:
                (report.failures if check else report.warnings).append(
                    f"{fr.id}: no reference caption in {spec.references_path.name}")
            if fr.id in produced:
                data = produced[fr.id]
                if check:
                    if img_path.exists() and img_path.read_bytes() == data:
                        report.rebuilt_ok += 1
                    else:
                        report.failures.append(
                            f"{fr.id}: rebuilt image differs from {img_path} "
                            "(not reproducible with these tool versions, or stale)")
                elif write_bytes_if_changed(img_path, data):
                    report.written += 1
                    report.files_written.append(str(img_path))
                else:
                    report.unchanged += 1
                w, h = _jpeg_size(io.BytesIO(data))
                entries.append(_entry(spec, src, fr, sha256_bytes(data), w, h, ref))
            elif img_path.exists():
                # Not regenerated (package missing offline, or failed): keep the committed
                # image; in check mode its hash must match the committed manifest.
                sha = sha256_file(img_path)
                old = previous.get(fr.id) or {}
                try:
                    w, h = _jpeg_size(img_path)
                except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
                    report.failures.append(f"{fr.id}: committed image {img_path} is unreadable: {exc}")
                    w, h = old.get("width", 1), old.get("height", 1)
                if check:
                    if old.get("sha256") != sha:
                        report.failures.append(f"{fr.id}: sha256 of {img_path.name} does not "
                                               "match manifest.jsonl")
                    else:
                        report.hashed_only += 1
                entries.append(_entry(spec, src, fr, sha, w, h, ref))
            else:
                report.failures.append(f"{fr.id}: no image (source failed and nothing committed)")
    # 3. orphans
    wanted = {f"{fr.id}.jpg" for _, fr in spec.frames()}
    if spec.images_dir.is_dir():
        for p in sorted(spec.images_dir.glob("*.jpg")):
            if p.name not in wanted:
                report.warnings.append(f"orphan image not in the spec: {p}")
    for rid in sorted(set(references) - {fr.id for _, fr in spec.frames()}):
        report.warnings.append(f"reference for unknown id {rid}")
    for e in entries:
        for p in validate_manifest_entry(e):
            report.failures.append(f"{e['id']}: {p}")

    # 4. manifest + notice
    outputs = {spec.manifest_path: render_manifest(entries),
               spec.notice_path: render_notice(spec, entries)}
    for path, text in outputs.items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                report.failures.append(f"{path} is not what a build writes (stale or edited)")
        elif write_bytes_if_changed(path, text.encode("utf-8")):
            report.files_written.append(str(path))
    report.elapsed_s = time.monotonic() - t0
    return report


def _doc_text(root: Path, rel: str | None, package: str) -> tuple[str, str]:
    """Whitespace-normalised text of a licence file inside an unpacked package."""
    if rel is None:
        return f"usr/share/doc/{package}/copyright", _norm_ws(read_copyright(root, package))
    p = member_path(root, rel, package)
    data = p.read_bytes()
    if p.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    return rel, _norm_ws(data.decode("utf-8", errors="replace"))


def _cut_source(spec: DatasetSpec, src: SourceSpec, root: Path,
                report: BuildReport) -> dict[str, bytes]:
    """Check licence evidence, then decode, resize and encode every frame of one source.

    Returns id -> JPEG bytes.
    """
    for label, needle, rel in (
            ("licence_evidence", src.licence_evidence, src.licence_file),
            ("attribution", src.attribution, src.attribution_file or src.licence_file)):
        name, text = _doc_text(root, rel, src.package)
        if needle is None:
            report.warnings.append(f"source {src.name}: no {label} to check against {name}")
        elif _norm_ws(needle) not in text:
            raise ValueError(f"{label} {needle!r} not found in {name}: "
                             "the licence may have changed, re-check it")
    media = member_path(root, src.path, src.package)
    frames = list(src.frames)
    if src.select:
        picked = _SELECTORS[src.select["method"]](src, media)
        frames = [FrameSpec(frame_id(src.name, t), t, shot, src.content_type) for t, shot in picked]
        src.frames = frames
    images = {}
    if src.kind == "still":
        images[frames[0].id] = load_still(media, rotate=src.rotate)
    else:
        got = frames_at(media, [f.timestamp_s for f in frames])
        for f in frames:
            images[f.id] = got[f.timestamp_s].image
    out = {}
    for fid, img in images.items():
        img = resize_long_side(img, spec.max_side)
        if not src.allow_blank and looks_blank(img):
            report.warnings.append(f"{fid}: frame looks blank/black {frame_stats(img)}")
        out[fid] = encode_jpeg(img, spec.jpeg_quality)
    return out


def render_notice(spec: DatasetSpec, entries: list[dict]) -> str:
    """NOTICE.md: every committed image with its source package, path and licence."""
    by_src = {s.name: s for s in spec.sources}
    frame_src = {fr.id: by_src[s.name] for s, fr in spec.frames()}
    lines = [
        f"# NOTICE — `datasets/{spec.name}/images/`",
        "",
        "Generated by `python -m bench.datasets build " + spec.name + "` from `sources.yaml`; "
        "do not edit by hand.",
        "",
        "Every image below is a frame or photograph taken from a file shipped in a Debian 12 "
        "(bookworm) package, **modified**: cut from the video at the given time (or loaded as a "
        f"still), downscaled so that the long side is at most {spec.max_side} px, and "
        f"re-encoded as JPEG (quality {spec.jpeg_quality}). Each image keeps the licence of the "
        "file it was taken from, as recorded in that package's `usr/share/doc/PACKAGE/copyright`; "
        "the copyright holder named there is listed under *attribution*. The packages' full "
        "licence texts are in those copyright files (and in `/usr/share/common-licenses/` on "
        "Debian systems).",
        "",
        "| image | package (version) | path in the package | time (s) | licence | attribution |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        s = e["source"]
        src = frame_src[e["id"]]
        ts = "" if e["timestamp_s"] is None else f"{e['timestamp_s']:g}"
        attr = (src.attribution or "").replace("|", "\\|")
        lines.append(f"| `{e['image']}` | {s['package']} ({s['version']}) | `{s['path']}` | "
                     f"{ts} | {s['licence']} | {attr} |")
    lines.append("")
    return "\n".join(lines)
