"""Build (or ``--check``) a dataset from its spec: fetch, unpack, cut, write, report.

``build`` fetches each pinned .deb (``debian``: apt-get, else a Debian mirror), checks that the recorded
licence and attribution still occur in the package, cuts the listed or
selected frames (``frames``: sequential decode, no seeking; ``selectors``:
shot detection), resizes them, writes deterministic JPEGs to ``images/`` and
then ``manifest.jsonl`` (merged with the hand-written ``references.jsonl``)
and ``NOTICE.md``. Files whose bytes would not change are not touched, so a
second build downloads and writes nothing. One failing package or source is
reported by name and the rest is still built.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from bench.frames.decode import (
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

from .debian import DebianError, PackageNotFound, apt_get_download, fetch_deb, member_path, read_copyright, unpack_deb
from .manifest import read_jsonl, render_manifest, validate_manifest_entry
from .mirror import MirrorOptions, mirrors_from_env
from .notice import render_notice
from .spec import DatasetSpec, FrameSpec, SourceSpec, SpecError, frame_id, selector

__all__ = ["DEFAULT_CACHE", "BuildReport", "build"]

DEFAULT_CACHE = Path(".cache/debs")


@dataclass
class BuildReport:
    dataset: str
    mode: str  # build | check
    frames: int = 0
    written: int = 0
    unchanged: int = 0
    rebuilt_ok: int = 0  # check mode: regenerated and byte-identical
    hashed_only: int = 0  # check mode: .deb absent, image hash compared
    unverified: int = 0  # check mode: neither .deb nor image here (images not committed)
    downloaded_bytes: int = 0
    cached_packages: int = 0
    fetched_packages: int = 0
    elapsed_s: float = 0.0
    image_bytes: int = 0  # the dataset's images on disk
    deb_bytes: int = 0  # the pinned .debs in the cache
    composition: Counter = field(default_factory=Counter)  # content_type -> frames
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        # a check that could not verify a frame has not shown the dataset is right: not OK
        return not self.failures and not self.unverified

    def summary(self) -> str:
        mb = self.downloaded_bytes / 1e6
        lines = [f"{self.mode} {self.dataset}: {self.frames} frames"]
        if self.mode == "build":
            lines.append(f"  images written: {self.written}, unchanged: {self.unchanged}")
            shown = self.files_written if len(self.files_written) <= 12 else \
                self.files_written[:10] + [f"... ({len(self.files_written) - 10} more)"]
            lines.append(f"  files written: {', '.join(shown) or 'none'}")
            lines.append(f"  packages: {self.fetched_packages} downloaded, "
                         f"{self.cached_packages} from cache; downloaded {self.downloaded_bytes} "
                         f"bytes ({mb:.1f} MB)")
            lines.append(f"  disk: images {self.image_bytes / 1e6:.1f} MB; "
                         f"pinned .debs in the cache {self.deb_bytes / 1e6:.1f} MB")
        else:
            lines.append(f"  rebuilt byte-identical: {self.rebuilt_ok}, "
                         f"hash-checked only (no .deb in cache): {self.hashed_only}")
            if self.unverified:
                lines.append(f"  not verified (no .deb and no image here): {self.unverified}")
        if len(self.composition) > 1:
            lines.append("  content types: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.composition.items(), key=lambda kv: (-kv[1], kv[0]))))
        lines.append(f"  time: {self.elapsed_s:.1f} s")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        for f in self.failures:
            lines.append(f"  FAILED: {f}")
        if self.ok:
            result = "OK"
        elif self.failures:
            result = f"{len(self.failures)} failure(s)"
        else:
            result = f"NOT VERIFIED ({self.unverified} of {self.frames} frames)"
        if self.unverified:
            result += (f"; {self.unverified} frame(s) have neither an image nor a cached .deb to check: build the "
                       f"dataset first (python -m bench.datasets build {self.dataset}), then run --check again")
        lines.append("  result: " + result)
        return "\n".join(lines)


def _norm_ws(s: str) -> str:
    return " ".join(s.split())


def _apt_update() -> bool:
    try:
        proc = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
    except FileNotFoundError:
        return False
    return proc.returncode == 0


def _entry(spec: DatasetSpec, src: SourceSpec, fr: FrameSpec, sha: str, w: int, h: int, reference) -> dict:
    pin = spec.packages[src.package].pin
    return {
        "id": fr.id, "image": f"images/{fr.id}.jpg", "sha256": sha, "width": w, "height": h,
        "content_type": fr.content_type, "video": src.video_ref, "shot": fr.shot,
        "timestamp_s": fr.timestamp_s, "run": fr.run,
        "source": {"package": pin.package, "version": pin.version, "deb_sha256": pin.sha256,
                   "path": src.path, "licence": src.licence},
        "reference": reference,
    }


def _jpeg_size(fp) -> tuple[int, int]:
    with Image.open(fp) as im:
        return im.size


def _load_references(spec: DatasetSpec, report: BuildReport) -> dict:
    references = {}
    try:
        rows = read_jsonl(spec.references_path)
    except SpecError as exc:
        report.failures.append(str(exc))
        rows = []
    for row in rows:
        if not isinstance(row, dict) or "id" not in row or "reference" not in row:
            report.failures.append(f"{spec.references_path.name}: line without id/reference")
            continue
        references[row["id"]] = row["reference"]
    return references


def _members_needed(spec: DatasetSpec, package: str) -> set[str]:
    """The paths inside ``package`` that its sources read: media and licence files."""
    out = set()
    for src in spec.sources:
        if src.package == package:
            out.add(src.path)
            out.add(src.licence_file or f"usr/share/doc/{package}/copyright")
            if src.attribution_file:
                out.add(src.attribution_file)
    return {m.lstrip("/").removeprefix("./") for m in out}


def _fetch_all(spec, cache_dir, report, *, check, offline, downloader, mirrors, mirror_options, log):
    """Fetch and unpack every needed package; returns (unpacked roots, errors by package)."""
    unpacked: dict[str, Path] = {}
    pkg_errors: dict[str, str] = {}
    updated = False
    for pkg in dict.fromkeys(s.package for s in spec.sources):
        pin = spec.packages[pkg].pin
        fetch = dict(downloader=downloader, offline=offline, mirrors=mirrors, size=spec.packages[pkg].size,
                     mirror_options=mirror_options)
        try:
            try:
                res = fetch_deb(pin, cache_dir, **fetch)
            except PackageNotFound:
                # with a mirror set, apt's miss already fell back to it; no point updating apt
                if offline or updated or mirrors or downloader is not apt_get_download:
                    raise
                log("apt-get cannot find a pinned package; running 'apt-get update' once")
                updated = True
                _apt_update()
                res = fetch_deb(pin, cache_dir, **fetch)
            if res.via != "cache":
                report.fetched_packages += 1
                report.downloaded_bytes += res.downloaded_bytes
                for note in res.notes:
                    log(f"  not via apt-get: {note}")
                log(f"fetched {pin.package}={pin.version} ({res.downloaded_bytes / 1e6:.1f} MB, {res.via})")
            else:
                report.cached_packages += 1
            report.deb_bytes += res.path.stat().st_size
            unpacked[pkg] = unpack_deb(res.path, cache_dir / "unpacked" / res.path.name[:-4], sha256=pin.sha256,
                                       members=_members_needed(spec, pkg))
        except DebianError as exc:
            pkg_errors[pkg] = str(exc)
            if check and isinstance(exc, PackageNotFound):
                continue  # expected offline: fall back to hashing committed images
            report.failures.append(str(exc))
    return unpacked, pkg_errors


def build(spec: DatasetSpec, cache_dir: str | os.PathLike = DEFAULT_CACHE, *,
          check: bool = False, offline: bool = False, downloader=apt_get_download,
          mirrors: Sequence[str] | None = None, mirror_options: MirrorOptions | None = None,
          log: Callable[[str], None] = print) -> BuildReport:
    """Build (or with ``check=True`` verify) a dataset from its spec.

    Build: fetch/unpack every pinned package, cut and write the frames, then
    write manifest.jsonl and NOTICE.md; files whose bytes would not change are
    not touched.  One failing package or source is reported and the rest is
    still built; its frames keep their committed images and manifest lines.

    Packages come from the cache, else ``downloader`` (apt-get), else the
    Debian ``mirrors`` (default: ``CAPBENCH_DEBIAN_MIRROR``), by pool path.

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
        drift = {k: (v, versions.get(k)) for k, v in spec.built_with.items() if str(versions.get(k)) != str(v)}
        if drift:
            report.warnings.append(
                "tool versions differ from built_with, images may not be byte-identical: " +
                ", ".join(f"{k} {a} -> {b}" for k, (a, b) in drift.items()))
    references = _load_references(spec, report)
    try:
        previous = {e.get("id"): e for e in read_jsonl(spec.manifest_path) if isinstance(e, dict)}
    except SpecError as exc:
        report.warnings.append(f"ignoring the existing manifest: {exc}")
        previous = {}

    if mirrors is None:
        mirrors = mirrors_from_env()
    unpacked, pkg_errors = _fetch_all(spec, cache_dir, report, check=check, offline=offline,
                                      downloader=downloader, mirrors=list(mirrors),
                                      mirror_options=mirror_options, log=log)
    entries: list[dict] = []
    for src in spec.sources:
        produced: dict[str, bytes] = {}
        err = pkg_errors.get(src.package)
        if err is None:
            try:
                produced = _cut_source(spec, src, unpacked[src.package], report)
            except (DebianError, DecodeError, OSError, ValueError) as exc:
                report.failures.append(f"source {src.name} ({src.package}:{src.path}): {exc}")
        if src.select and not produced:
            # selector-driven source not regenerated: keep the frames it had last time
            src.frames = [FrameSpec(e["id"], e["timestamp_s"], e["shot"], e["content_type"], e.get("run"))
                          for e in previous.values()
                          if e.get("video") == src.video_ref and str(e.get("id", "")).startswith(src.name + "-t")]
        report.frames += len(src.frames)
        for fr in src.frames:
            entry = _frame_entry(spec, src, fr, produced, previous, references, report, check)
            if entry is not None:
                entries.append(entry)
                report.composition[entry["content_type"]] += 1
        if produced and len(spec.sources) > 30:
            log(f"{src.name}: {len(produced)} frames")
    _orphans(spec, references, report)
    for e in entries:
        for p in validate_manifest_entry(e):
            report.failures.append(f"{e['id']}: {p}")
    if spec.target_frames is not None and len(entries) != spec.target_frames:
        report.failures.append(f"{len(entries)} frames built, the spec asks for exactly {spec.target_frames}")

    outputs = {spec.manifest_path: render_manifest(entries), spec.notice_path: render_notice(spec, entries)}
    for path, text in outputs.items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                report.failures.append(f"{path} is not what a build writes (stale or edited)")
        elif write_bytes_if_changed(path, text.encode("utf-8")):
            report.files_written.append(str(path))
    report.image_bytes = sum((spec.dir / e["image"]).stat().st_size for e in entries
                             if (spec.dir / e["image"]).exists())
    report.elapsed_s = time.monotonic() - t0
    return report


def _frame_entry(spec, src, fr, produced, previous, references, report, check) -> dict | None:
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
                report.failures.append(f"{fr.id}: rebuilt image differs from {img_path} "
                                       "(not reproducible with these tool versions, or stale)")
        elif write_bytes_if_changed(img_path, data):
            report.written += 1
            report.files_written.append(str(img_path))
        else:
            report.unchanged += 1
        w, h = _jpeg_size(io.BytesIO(data))
        return _entry(spec, src, fr, sha256_bytes(data), w, h, ref)
    if img_path.exists():
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
                report.failures.append(f"{fr.id}: sha256 of {img_path.name} does not match manifest.jsonl")
            else:
                report.hashed_only += 1
        return _entry(spec, src, fr, sha, w, h, ref)
    if check and fr.id in previous and src.package in spec.packages:
        # check without the .deb and without images (e.g. frames1k, images not committed):
        # nothing to compare; keep the manifest line so the manifest check still holds.
        old = previous[fr.id]
        report.unverified += 1
        return _entry(spec, src, fr, old["sha256"], old["width"], old["height"], ref)
    report.failures.append(f"{fr.id}: no image (source failed and nothing committed)")
    return None


def _orphans(spec: DatasetSpec, references: dict, report: BuildReport) -> None:
    wanted = {f"{fr.id}.jpg" for _, fr in spec.frames()}
    if spec.images_dir.is_dir():
        for p in sorted(spec.images_dir.glob("*.jpg")):
            if p.name not in wanted:
                report.warnings.append(f"orphan image not in the spec: {p}")
    for rid in sorted(set(references) - {fr.id for _, fr in spec.frames()}):
        report.warnings.append(f"reference for unknown id {rid}")


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


def _cut_source(spec: DatasetSpec, src: SourceSpec, root: Path, report: BuildReport) -> dict[str, bytes]:
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
            raise ValueError(f"{label} {needle!r} not found in {name}: the licence may have changed, re-check it")
    media = member_path(root, src.path, src.package)
    frames = list(src.frames)
    if src.select:
        picks = selector(src.select["method"])(src, media)
        frames = [FrameSpec(frame_id(src.name, p.timestamp_s), p.timestamp_s, p.shot, src.content_type, p.run)
                  for p in picks]
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
