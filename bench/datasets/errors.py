"""Errors about one pinned Debian package; each names the package (``.package``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DebianError", "PackageNotFound", "ChecksumMismatch", "MissingMember", "DebianToolError",
           "DownloadError", "UnsafeArchive"]


class DebianError(RuntimeError):
    """Base class: something is wrong with one pinned package."""

    def __init__(self, package: str, message: str):
        super().__init__(f"{package}: {message}")
        self.package = package


class PackageNotFound(DebianError):
    """Neither apt nor the mirror has this version (or offline and not cached)."""


class ChecksumMismatch(DebianError):
    def __init__(self, package: str, path: Path, expected: str, actual: str, where: str = ""):
        super().__init__(
            package,
            f"sha256 mismatch for {path.name}{where}: expected {expected}, got {actual} "
            "(the archive serves a different build than the pin; re-pin deliberately "
            "if this is expected)")
        self.path, self.expected, self.actual = path, expected, actual


class MissingMember(DebianError):
    """A path the spec needs is not inside the package."""


class DebianToolError(DebianError):
    """apt-get failing, or a corrupt package file."""


class DownloadError(DebianError):
    """A mirror download kept failing (timeouts, resets, truncation, server errors)."""


class UnsafeArchive(DebianError):
    """The package holds something hostile (path traversal, escaping link, decompression bomb)."""
