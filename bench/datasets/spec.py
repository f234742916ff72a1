"""The pinned dataset spec (``datasets/<name>/sources.yaml``): parse and validate it.

Spec format (YAML)::

    dataset: sample
    title: ...
    output: {max_side: 640, jpeg_quality: 85, require_references: true, frames: 1000}
    built_with: {pillow: 13.0.0, av: 18.1.0, ...}   # versions that pin the bytes
    packages:
      opencv-doc:
        version: 4.6.0+dfsg-12
        sha256: <sha256 of the .deb>
        size: 95715012                      # optional, bytes
        filename: pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb
                                            # pool path on a Debian mirror (the Packages index's
                                            # Filename:); or give source: and arch: and it is derived
    sources:
      - name: vtest                         # id prefix: [a-z0-9._-]
        package: opencv-doc
        path: usr/share/doc/opencv-doc/examples/data/vtest.avi
        kind: video                         # video | still | stills
        content_type: real-world footage
        licence: Apache-2.0 AND BSD-3-Clause
        licence_evidence: "License: Apache-2.0 AND BSD-3-Clause"  # must occur in the copyright file
        attribution: "2000-2022, Intel Corporation"               # must occur there too
        timestamps: [56.0]                  # or frames: [{t: 56.0, shot: s01}]
        # or, instead of timestamps, a frame selector run at build time:
        # select: {method: shots, frames: 40, ...}   (bench.datasets.selectors.shots)
      - name: mate                          # kind: stills = one still per listed path
        package: mate-backgrounds
        kind: stills
        paths: [usr/share/.../Aqua.jpg, {path: usr/share/.../Dune.jpg, rotate: 90, attribution: "..."}]
        ...

A ``stills`` source expands into one ``still`` source per path, named
``<name>-<file stem>``; per-path keys (rotate, attribution, licence,
licence_evidence) override the group's.  ``output.frames``, when set, is the
exact number of frames the dataset must have (timestamps + selector quotas +
stills); a spec that does not add up is rejected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.frames.base import frame_id

from .debian import DebPin
from .mirror import pool_path

__all__ = [
    "ID_RE", "CONTENT_TYPES", "SpecError", "PackageSpec", "FrameSpec", "SourceSpec", "DatasetSpec",
    "Pick", "Selector", "frame_id", "register_selector", "selector", "load_spec", "find_spec",
]

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Coarse categories used to slice results; a spec may use others (a warning).
CONTENT_TYPES = ("real-world footage", "surveillance footage", "archival film", "CGI animation",
                 "video game", "screen recording", "photograph", "slides/text", "motion graphics")


class SpecError(ValueError):
    """The sources.yaml is malformed (all problems are listed)."""


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
    run: dict | None = None  # {"id", "fps", "index"} for a run of consecutive frames


@dataclass(frozen=True)
class Pick:
    """A frame a selector chose: time (s from the first decoded frame), shot id, run membership."""

    timestamp_s: float
    shot: str | None = None
    run: dict | None = None


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

    @property
    def quota(self) -> int:
        """Frames this source contributes: the selector's quota, or its listed frames."""
        if self.select:
            return int(self.select.get("frames", 0))
        return len(self.frames)


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
    target_frames: int | None = None

    images_dir = property(lambda self: self.dir / "images")
    manifest_path = property(lambda self: self.dir / "manifest.jsonl")
    references_path = property(lambda self: self.dir / "references.jsonl")
    notice_path = property(lambda self: self.dir / "NOTICE.md")

    def frames(self) -> Iterable[tuple[SourceSpec, FrameSpec]]:
        for src in self.sources:
            for fr in src.frames:
                yield src, fr


# Selectors turn a source's ``select`` config and its unpacked video into
# frames at build time (e.g. "shots": shot detection, bench.datasets.selectors).
Selector = Callable[[SourceSpec, Path], list[Pick]]
_SELECTORS: dict[str, Selector] = {}


def register_selector(name: str, fn: Selector) -> None:
    _SELECTORS[name] = fn


def selector(name: str) -> Selector:
    _load_builtin_selectors()
    return _SELECTORS[name]


def _load_builtin_selectors() -> None:
    from . import selectors  # noqa: F401  (registers "shots")


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


_STILL_OVERRIDES = ("rotate", "attribution", "licence", "licence_evidence", "allow_blank")


def _expand_stills(s: dict, where: str, problems: list[str]) -> list[dict]:
    """``kind: stills`` -> one ``kind: still`` mapping per listed path."""
    paths = s.get("paths")
    if not isinstance(paths, list) or not paths:
        problems.append(f"{where}: kind 'stills' needs a non-empty 'paths' list")
        return []
    out = []
    for item in paths:
        entry = dict(item) if isinstance(item, dict) else {"path": item}
        if not isinstance(entry.get("path"), str):
            problems.append(f"{where}: bad paths entry {item!r}")
            continue
        stem = re.sub(r"[^a-z0-9]+", "-", Path(entry["path"]).stem.lower()).strip("-")
        one = {k: v for k, v in s.items() if k not in ("paths", "kind")}
        one.update({k: entry[k] for k in _STILL_OVERRIDES if k in entry})
        one.update(kind="still", path=entry["path"], name=entry.get("name") or f"{s.get('name')}-{stem}")
        out.append(one)
    return out


def load_spec(path: str | os.PathLike) -> DatasetSpec:
    """Parse and validate a ``sources.yaml``; raise SpecError listing every problem."""
    import yaml

    _load_builtin_selectors()
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
            filename = p.get("filename")
            if filename is None and (p.get("source") or p.get("arch")):
                filename = pool_path(pkg, str(p["version"]), source=p.get("source"), arch=p.get("arch") or "all")
            packages[pkg] = PackageSpec(DebPin(pkg, str(p["version"]), str(p["sha256"]),
                                               None if filename is None else str(filename)), p.get("size"))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"package {pkg}: {exc}")
    raw_sources: list[tuple[str, dict]] = []
    for i, s in enumerate(raw.get("sources") or []):
        if not isinstance(s, dict):
            problems.append(f"sources[{i}]: must be a mapping")
        elif s.get("kind") == "stills":
            raw_sources += [(f"source {s.get('name') or i}", one)
                            for one in _expand_stills(s, f"source {s.get('name') or i}", problems)]
        else:
            raw_sources.append((f"source {s.get('name') or i}", s))
    sources: list[SourceSpec] = []
    seen: dict[str, str] = {}
    for where, s in raw_sources:
        sources.append(_parse_source(s, where, packages, problems))
        for fr in sources[-1].frames:
            if fr.id in seen:
                problems.append(f"{where}: duplicate frame id {fr.id} (also in {seen[fr.id]})")
            seen[fr.id] = where
    names = [s.name for s in sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"duplicate source name {dup}")
    if not sources:
        problems.append("no sources")
    target = out.get("frames")
    if target is not None and sources:
        total = sum(s.quota for s in sources)
        if total != int(target):
            problems.append(f"output.frames is {target} but the sources add up to {total} "
                            "(timestamps + select.frames + stills)")
    if problems:
        raise SpecError(f"{path}:\n  " + "\n  ".join(problems))
    return DatasetSpec(
        name=str(raw.get("dataset") or path.parent.name), dir=path.parent, packages=packages,
        sources=sources, max_side=int(out.get("max_side", 640)),
        jpeg_quality=int(out.get("jpeg_quality", 85)),
        require_references=bool(out.get("require_references", False)),
        built_with=dict(raw.get("built_with") or {}), title=str(raw.get("title", "")),
        target_frames=None if target is None else int(target))


def _parse_source(s: dict, where: str, packages: dict, problems: list[str]) -> SourceSpec:
    name = str(s.get("name", ""))
    for key in ("name", "package", "path", "kind", "content_type", "licence"):
        if not s.get(key):
            problems.append(f"{where}: missing '{key}'")
    if name and not ID_RE.match(name):
        problems.append(f"{where}: name must match {ID_RE.pattern}")
    if s.get("package") and s["package"] not in packages:
        problems.append(f"{where}: package {s['package']} is not pinned under 'packages'")
    kind = s.get("kind")
    if kind not in ("video", "still"):
        problems.append(f"{where}: kind must be 'video', 'still' or 'stills'")
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
        pairs = _ts_list(s.get("timestamps"), where, problems) + _ts_list(s.get("frames"), where, problems)
        if not pairs and not src.select:
            problems.append(f"{where}: a video needs 'timestamps', 'frames' or 'select'")
        if src.select:
            if src.select.get("method") not in _SELECTORS:
                problems.append(f"{where}: unknown selector {src.select.get('method')!r} "
                                f"(registered: {sorted(_SELECTORS) or 'none'})")
            if not isinstance(src.select.get("frames"), int) or src.select["frames"] < 1:
                problems.append(f"{where}: select.frames must be a positive integer (the source's quota)")
            if pairs:
                problems.append(f"{where}: use either 'select' or explicit timestamps, not both")
        for t, shot in pairs:
            src.frames.append(FrameSpec(frame_id(name, t), t, shot, src.content_type))
    elif kind == "still":
        src.frames.append(FrameSpec(name, None, None, src.content_type))
    return src


def find_spec(name: str, root: str | os.PathLike | None = None) -> Path:
    """``datasets/<name>/sources.yaml`` under ``root`` (default: ./datasets or the repo's)."""
    candidates = [Path(root)] if root else [Path("datasets"), Path(__file__).resolve().parents[2] / "datasets"]
    for base in candidates:
        p = base / name / "sources.yaml"
        if p.is_file():
            return p
    raise SpecError(f"no dataset spec '{name}' (looked for {name}/sources.yaml in "
                    f"{', '.join(str(c) for c in candidates)})")
