"""Fetch pinned Debian packages, verify them and unpack them without installing.

``fetch_deb`` keeps each pinned .deb in a cache directory (``.cache/debs/`` by
default) under a canonical name, so a second build finds it and downloads
nothing.  A missing one is fetched with ``apt-get download PKG=VERSION`` where
apt works; when apt is missing, does not have the version or serves another
build, it is fetched from the Debian mirror(s) the user named (:mod:`.mirror`,
``--mirror`` / ``CAPBENCH_DEBIAN_MIRROR``) by its pool path.  Either way the
sha256 must match the pin before the file is kept.

``unpack_deb`` extracts the members a spec needs into ``<cache>/unpacked/PKG_VERSION``
in pure Python (:mod:`.debfile`; no dpkg) and marks the directory complete
with a stamp file holding the .deb's sha256 and the members extracted.

Errors are specific and name the package (:mod:`.errors`): :class:`PackageNotFound`
(no such package or version), :class:`ChecksumMismatch` (not the pinned file),
:class:`DownloadError` (the mirror kept failing), :class:`MissingMember` (the
path is not inside the package), :class:`UnsafeArchive` (a hostile package)
and :class:`DebianToolError` (apt-get failing, a corrupt package).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.frames.decode import sha256_file

from .debfile import extract_members
from .errors import (
    ChecksumMismatch,
    DebianError,
    DebianToolError,
    DownloadError,
    MissingMember,
    PackageNotFound,
    UnsafeArchive,
)
from .mirror import MIRROR_HELP, MirrorOptions, download_from_mirrors, pool_path

__all__ = [
    "DebianError",
    "PackageNotFound",
    "ChecksumMismatch",
    "MissingMember",
    "DebianToolError",
    "DownloadError",
    "UnsafeArchive",
    "DebPin",
    "FetchResult",
    "deb_filename",
    "fetch_deb",
    "unpack_deb",
    "member_path",
    "read_copyright",
    "apt_get_download",
]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9.+~:-]+$")
_POOL_RE = re.compile(r"^pool/[a-z0-9-]+/[a-z0-9+.-]+/[a-z0-9+.-]+/[A-Za-z0-9+.~%_-]+\.deb$")


@dataclass(frozen=True)
class DebPin:
    package: str
    version: str
    sha256: str
    # Debian's pool path (the Packages index's ``Filename:``), relative to a mirror's root;
    # None: derived from package and version (source = package, arch all)
    filename: str | None = None

    def __post_init__(self):
        if not _NAME_RE.match(self.package):
            raise ValueError(f"bad Debian package name: {self.package!r}")
        if not _VERSION_RE.match(self.version):
            raise ValueError(f"{self.package}: bad version string {self.version!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256 or ""):
            raise ValueError(f"{self.package}: sha256 must be 64 lowercase hex digits")
        if self.filename is not None and (not _POOL_RE.match(self.filename) or ".." in self.filename):
            raise ValueError(f"{self.package}: filename must be a pool path like "
                             f"pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb, not {self.filename!r}")

    @property
    def pool_path(self) -> str:
        return self.filename or pool_path(self.package, self.version)


@dataclass(frozen=True)
class FetchResult:
    path: Path
    downloaded_bytes: int  # 0 when served from the cache
    via: str = "cache"  # cache | apt-get | the mirror URL
    notes: list[str] = field(default_factory=list)  # why apt was passed over


def deb_filename(package: str, version: str) -> str:
    """Canonical cache file name (the epoch colon escaped as apt does)."""
    return f"{package}_{version.replace(':', '%3a')}.deb"


def apt_get_download(package: str, version: str, dest_dir: Path) -> Path:
    """Run ``apt-get download PKG=VERSION`` in ``dest_dir``; return the .deb path."""
    if shutil.which("apt-get") is None:
        raise DebianToolError(package, f"apt-get not found; {MIRROR_HELP}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    # When run as root, apt warns that the _apt user cannot write here and
    # downloads unsandboxed; that warning is harmless.
    proc = subprocess.run(
        ["apt-get", "download", "-q", f"{package}={version}"],
        cwd=dest_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip()
        lowered = err.lower()
        if ("unable to locate package" in lowered or "can't find a package" in lowered
                or "was not found" in lowered or "has no installation candidate" in lowered):
            raise PackageNotFound(
                package, f"apt-get cannot find {package}={version} "
                f"(run 'apt-get update' first; is the version still in the archive? If not, {MIRROR_HELP}): "
                f"{err}")
        raise DebianToolError(package, f"apt-get download failed (exit {proc.returncode}): {err}")
    debs = sorted(dest_dir.glob(f"{package}_*.deb"))
    if len(debs) != 1:
        raise DebianToolError(package, f"apt-get download left {len(debs)} .deb files in {dest_dir}")
    return debs[0]


def _via_downloader(pin: DebPin, cache_dir: Path, downloader, target: Path) -> int:
    tmp = Path(tempfile.mkdtemp(prefix=f".dl-{pin.package}-", dir=cache_dir))
    try:
        os.chmod(tmp, 0o755)
        got = downloader(pin.package, pin.version, tmp)
        actual = sha256_file(got)
        if actual != pin.sha256:
            raise ChecksumMismatch(pin.package, got, pin.sha256, actual)
        size = got.stat().st_size
        os.replace(got, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return size


def fetch_deb(pin: DebPin, cache_dir: str | os.PathLike, *, downloader=apt_get_download,
              offline: bool = False, mirrors: Sequence[str] = (), size: int | None = None,
              mirror_options: MirrorOptions | None = None) -> FetchResult:
    """Return the pinned .deb from the cache, downloading it if needed.

    A cached file with the wrong checksum is discarded and fetched again once.
    ``downloader`` (apt-get by default; None to skip it) is tried first; if it
    fails and ``mirrors`` are given, the file is fetched from them by its pool
    path.  A downloaded file with the wrong checksum raises
    :class:`ChecksumMismatch` (and is not kept).  With ``offline=True`` a
    missing file raises :class:`PackageNotFound` instead of downloading.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / deb_filename(pin.package, pin.version)
    if target.exists():
        actual = sha256_file(target)
        if actual == pin.sha256:
            return FetchResult(target, 0)
        if offline:
            raise ChecksumMismatch(pin.package, target, pin.sha256, actual)
        target.unlink()  # stale or corrupt cache entry: fetch again
    if offline:
        raise PackageNotFound(pin.package, f"{target} is not in the cache (offline mode)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    notes = []
    if downloader is not None:
        try:
            return FetchResult(target, _via_downloader(pin, cache_dir, downloader, target), "apt-get")
        except DebianError as exc:
            if not mirrors:
                raise
            notes.append(str(exc))
    url, n = download_from_mirrors(pin, pin.pool_path, mirrors, target, size=size, options=mirror_options)
    return FetchResult(target, n, url, notes)


def _read_stamp(stamp: Path) -> tuple[str, set[str] | None] | None:
    """(digest, members extracted or None for all), or None when absent."""
    if not stamp.exists():
        return None
    lines = stamp.read_text().split("\n")
    rest = {ln for ln in lines[1:] if ln}
    return lines[0].strip(), (None if not rest or rest == {"*"} else rest)


def unpack_deb(deb: str | os.PathLike, dest: str | os.PathLike, *, sha256: str | None = None,
               members: Iterable[str] | None = None, max_bytes: int | None = None) -> Path:
    """Extract ``members`` (None: everything) of the package into ``dest`` once; later calls reuse it.

    The directory is complete when ``dest/.unpacked`` holds the .deb's sha256
    and a superset of the members asked for (a stamp with only the digest,
    as the older dpkg-based builder wrote, means everything); otherwise it is
    redone with the union.  Members missing from the package are simply
    absent (:func:`member_path` names them).
    """
    deb, dest = Path(deb), Path(dest)
    package = deb.name.split("_", 1)[0]
    digest = sha256 or sha256_file(deb)
    want = None if members is None else {m.lstrip("/").removeprefix("./") for m in members}
    stamp = _read_stamp(dest / ".unpacked")
    if stamp is not None and stamp[0] == digest:
        have = stamp[1]
        if have is None or (want is not None and want <= have):
            return dest
        if want is not None:
            want |= have
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        extract_members(deb, tmp, None if want is None else sorted(want), package=package, max_bytes=max_bytes)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / ".unpacked").write_text(digest + "\n" + "\n".join(sorted(want) if want is not None else ["*"]) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def member_path(unpacked: str | os.PathLike, rel: str, package: str = "?") -> Path:
    """Path of ``rel`` (e.g. ``usr/share/...``) inside an unpacked package."""
    rel = rel.lstrip("/")
    if rel.startswith("./"):
        rel = rel[2:]
    root = Path(unpacked).resolve()
    p = (root / rel).resolve()
    if root not in p.parents:
        raise MissingMember(package, f"path escapes the package: {rel}")
    if not p.is_file():
        raise MissingMember(package, f"{rel} is not in the package")
    return p


def read_copyright(unpacked: str | os.PathLike, package: str) -> str:
    """Text of ``usr/share/doc/PKG/copyright`` (where Debian records licences)."""
    p = Path(unpacked) / "usr/share/doc" / package / "copyright"
    if not p.is_file():
        raise MissingMember(package, f"usr/share/doc/{package}/copyright is not in the package")
    return p.read_text(errors="replace")
