"""Fetch pinned Debian packages, verify them and unpack them without installing.

``fetch_deb`` runs ``apt-get download PKG=VERSION`` into a cache directory
(``.cache/debs/`` by default), checks the file's sha256 against the pin and
keeps it under a canonical name, so a second build finds it and downloads
nothing.  ``unpack_deb`` runs ``dpkg -x`` into ``<cache>/unpacked/PKG_VERSION``
and marks the directory complete with a stamp file holding the .deb's sha256.

Errors are specific and name the package: :class:`PackageNotFound` (apt has no
such package or version), :class:`ChecksumMismatch` (the file is not the pinned
one), :class:`MissingMember` (the path is not inside the package) and
:class:`DebianToolError` (apt-get/dpkg missing or failing otherwise).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .frames import sha256_file

__all__ = [
    "DebianError",
    "PackageNotFound",
    "ChecksumMismatch",
    "MissingMember",
    "DebianToolError",
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


class DebianError(RuntimeError):
    """Base class: something is wrong with one pinned package."""

    def __init__(self, package: str, message: str):
        super().__init__(f"{package}: {message}")
        self.package = package


class PackageNotFound(DebianError):
    pass


class ChecksumMismatch(DebianError):
    def __init__(self, package: str, path: Path, expected: str, actual: str):
        super().__init__(
            package,
            f"sha256 mismatch for {path.name}: expected {expected}, got {actual} "
            "(the archive serves a different build than the pin; re-pin deliberately "
            "if this is expected)")
        self.path, self.expected, self.actual = path, expected, actual


class MissingMember(DebianError):
    pass


class DebianToolError(DebianError):
    pass


@dataclass(frozen=True)
class DebPin:
    package: str
    version: str
    sha256: str

    def __post_init__(self):
        if not _NAME_RE.match(self.package):
            raise ValueError(f"bad Debian package name: {self.package!r}")
        if not _VERSION_RE.match(self.version):
            raise ValueError(f"{self.package}: bad version string {self.version!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256 or ""):
            raise ValueError(f"{self.package}: sha256 must be 64 lowercase hex digits")


@dataclass(frozen=True)
class FetchResult:
    path: Path
    downloaded_bytes: int  # 0 when served from the cache


def deb_filename(package: str, version: str) -> str:
    """Canonical cache file name (the epoch colon escaped as apt does)."""
    return f"{package}_{version.replace(':', '%3a')}.deb"


def apt_get_download(package: str, version: str, dest_dir: Path) -> Path:
    """Run ``apt-get download PKG=VERSION`` in ``dest_dir``; return the .deb path."""
    if shutil.which("apt-get") is None:
        raise DebianToolError(package, "apt-get not found: this builder needs a Debian-based machine")
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
                f"(run 'apt-get update' first; is the version still in the archive?): {err}")
        raise DebianToolError(package, f"apt-get download failed (exit {proc.returncode}): {err}")
    debs = sorted(dest_dir.glob(f"{package}_*.deb"))
    if len(debs) != 1:
        raise DebianToolError(package, f"apt-get download left {len(debs)} .deb files in {dest_dir}")
    return debs[0]


def fetch_deb(pin: DebPin, cache_dir: str | os.PathLike, *, downloader=apt_get_download,
              offline: bool = False) -> FetchResult:
    """Return the pinned .deb from the cache, downloading it if needed.

    A cached file with the wrong checksum is discarded and fetched again once;
    a freshly downloaded file with the wrong checksum raises
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
    return FetchResult(target, size)


def unpack_deb(deb: str | os.PathLike, dest: str | os.PathLike, *, sha256: str | None = None) -> Path:
    """``dpkg -x`` the package into ``dest`` once; later calls reuse it.

    The directory is complete when ``dest/.unpacked`` holds the .deb's sha256;
    an incomplete or different unpack is removed and redone.
    """
    deb, dest = Path(deb), Path(dest)
    package = deb.name.split("_", 1)[0]
    digest = sha256 or sha256_file(deb)
    stamp = dest / ".unpacked"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return dest
    if shutil.which("dpkg") is None:
        raise DebianToolError(package, "dpkg not found: this builder needs a Debian-based machine")
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    proc = subprocess.run(["dpkg", "-x", str(deb), str(tmp)], capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DebianToolError(package, f"dpkg -x {deb.name} failed: {proc.stderr.strip()}")
    (tmp / ".unpacked").write_text(digest + "\n")
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
