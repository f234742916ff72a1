"""Read a .deb without dpkg: the ``ar`` container, its ``data.tar.*``, chosen members.

A .deb is an ``ar`` archive (``!<arch>`` magic, 60-byte member headers) holding
``debian-binary``, ``control.tar.*`` and ``data.tar{,.gz,.xz,.zst,.bz2}``.
:func:`extract_members` streams the data tarball once (standard ``tarfile``
with ``lzma``/``gzip``/``bz2``; ``zstandard`` for zstd, which Python 3.11's
standard library lacks) and writes only the wanted members.

Untrusted input is refused by name (:class:`UnsafeArchive`, the whole package):
an absolute or ``../`` member name, a link whose target climbs out of the
package, and a data tarball that expands past ``max_bytes`` (a decompression
bomb).  tarfile's own ``data`` filter is not used because it also rejects the
absolute symlinks that ordinary Debian packages contain (``/usr/share/...``);
here an absolute link target is read the way dpkg installs it, relative to the
package root.  Links are materialised as copies of their target's bytes, so the
unpacked tree holds no link at all (and works on Windows).
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
from pathlib import Path

from .errors import DebianToolError, UnsafeArchive

__all__ = ["AR_MAGIC", "DATA_MEMBERS", "ar_members", "default_max_bytes", "extract_members"]

AR_MAGIC = b"!<arch>\n"
DATA_MEMBERS = ("data.tar.xz", "data.tar.zst", "data.tar.gz", "data.tar.bz2", "data.tar")
# Cap on the decompressed data tarball.  Real packages expand 1-8x (media is
# already compressed; of the 27 frames1k packages gnome-user-docs expands most,
# 8.0x; opencv-doc 3.0x); a bomb
# expands thousands of times.  The floor keeps tiny packages with text from
# tripping it.
BOMB_RATIO = 50
BOMB_FLOOR = 256 * 1024 * 1024
_MAX_LINK_HOPS = 40
_CHUNK = 1 << 20


def default_max_bytes(compressed_size: int) -> int:
    return max(BOMB_FLOOR, BOMB_RATIO * compressed_size)


def ar_members(f, package: str = "?"):
    """Yield ``(name, offset, size)`` for each member of an ar archive open in ``f``."""
    if f.read(8) != AR_MAGIC:
        raise DebianToolError(package, "not a Debian package (no ar archive header)")
    while True:
        header = f.read(60)
        if not header:
            return
        if len(header) != 60 or header[58:60] != b"`\n":
            raise DebianToolError(package, "corrupt ar archive (bad member header)")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise DebianToolError(package, f"corrupt ar archive (bad size for member {name!r})") from None
        offset = f.tell()
        yield name, offset, size
        f.seek(offset + size + (size & 1))  # members are padded to an even offset


class _Window(io.RawIOBase):
    """Reads ``size`` bytes of ``f`` starting at ``offset`` (one ar member)."""

    def __init__(self, f, offset: int, size: int):
        self._f, self._left = f, size
        f.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        b[:len(data)] = data
        self._left -= len(data)
        return len(data)


class _Capped(io.RawIOBase):
    """Counts decompressed bytes and refuses to go past ``limit`` (bomb guard)."""

    def __init__(self, raw, limit: int, package: str, member: str):
        self._raw, self.limit, self.count = raw, limit, 0
        self._package, self._member = package, member

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._raw.read(len(b))
        self.count += len(data)
        if self.count > self.limit:
            raise UnsafeArchive(self._package, f"{self._member} expands past {self.limit:,} bytes "
                                "(decompression bomb?); refused")
        b[:len(data)] = data
        return len(data)


def _decompressor(member: str, raw, package: str):
    if member.endswith(".xz"):
        import lzma

        return lzma.LZMAFile(raw)
    if member.endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=raw)
    if member.endswith(".bz2"):
        import bz2

        return bz2.BZ2File(raw)
    if member.endswith(".zst"):
        try:
            import zstandard
        except ImportError:  # pragma: no cover - a declared dependency
            raise DebianToolError(package, "data.tar.zst needs the 'zstandard' package: "
                                  "pip install zstandard") from None
        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _safe_name(name: str, package: str, what: str = "member") -> str:
    """Archive path -> normalised relative POSIX path; refuses absolute and ``../`` names."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise UnsafeArchive(package, f"{what} {name!r} has an absolute path; refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(package, f"{what} {name!r} climbs out of the package (path traversal); refused")
    return "/".join(parts)


def _link_target(ti: tarfile.TarInfo, name: str, package: str) -> str:
    """Where a link member points, as a path inside the package (or refused)."""
    if ti.islnk():  # hard link: the target is another member's archive path
        return _safe_name(ti.linkname, package, f"hard link {name} ->")
    target = ti.linkname
    if target.startswith("/"):  # dpkg installs it relative to /, i.e. the package root
        joined = target.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(name), target)
    norm = posixpath.normpath(joined) if joined else "."
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchive(package, f"symlink {name} -> {target} points outside the package; refused")
    return "" if norm == "." else norm


def _resolve(path: str, links: dict[str, str]) -> str | None:
    """Follow links (also on directories) inside the package; None for a loop."""
    for _ in range(_MAX_LINK_HOPS):
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix in links:
                path = "/".join([links[prefix], *parts[i:]]).strip("/")
                break
        else:
            return path
    return None


def _data_member(f, package: str) -> tuple[str, int, int]:
    names = []
    for name, offset, size in ar_members(f, package):
        names.append(name)
        if name in DATA_MEMBERS:
            return name, offset, size
    raise DebianToolError(package, f"no data.tar member in the package (members: {', '.join(names) or 'none'})")


def _write(src, dest: Path, budget: list[int], limit: int, package: str, name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            budget[0] += len(chunk)
            if budget[0] > limit:
                raise UnsafeArchive(package, f"member {name} takes the extracted size past {limit:,} bytes; refused")
            out.write(chunk)


def _scan(deb: Path, dest: Path, wanted, package: str, max_bytes: int | None, budget: list[int]):
    """One pass over data.tar: check every member, write the wanted regular files.

    ``wanted`` is a set of paths or None (everything).  Returns (regular files
    seen, links seen as path -> target, member name).
    """
    regular: set[str] = set()
    links: dict[str, str] = {}
    with open(deb, "rb") as f:
        member, offset, size = _data_member(f, package)
        limit = max_bytes if max_bytes is not None else default_max_bytes(size)
        stream = io.BufferedReader(_Capped(io.BufferedReader(
            _decompressor(member, io.BufferedReader(_Window(f, offset, size)), package)), limit, package, member))
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for ti in tar:
                    name = _safe_name(ti.name, package)
                    if ti.issym() or ti.islnk():
                        links[name] = _link_target(ti, name, package)
                    elif ti.isfile():
                        regular.add(name)
                        if name and (wanted is None or name in wanted):
                            _write(tar.extractfile(ti), dest.joinpath(*name.split("/")), budget, limit,
                                   package, name)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, UnsafeArchive):
                raise
            raise DebianToolError(package, f"cannot read {member} in {deb.name}: {exc}") from exc
    return regular, links, member


def extract_members(deb: str | os.PathLike, dest: str | os.PathLike, members=None, *,
                    package: str = "?", max_bytes: int | None = None) -> list[str]:
    """Extract ``members`` (relative paths; None = all) of ``deb``'s data into ``dest``.

    A wanted member that is a link (or lies under a linked directory) is written
    as a copy of its target.  Wanted members not in the package are skipped
    (the caller names them when it looks for them).  Returns the paths written.
    Raises :class:`UnsafeArchive` for a hostile package, :class:`DebianToolError`
    for a corrupt one.
    """
    deb, dest = Path(deb), Path(dest)
    wanted = None if members is None else {_safe_name(m, package, "requested member") for m in members}
    budget = [0]
    regular, links, _member = _scan(deb, dest, wanted, package, max_bytes, budget)
    written = {m for m in regular if wanted is None or m in wanted}
    # links: resolve each wanted path through the package's links; fetch targets not yet written
    via_links = {}
    for m in (wanted if wanted is not None else set(links)):
        if m in written:
            continue
        target = _resolve(m, links)
        if target is not None and target != m and target in regular:
            via_links[m] = target
    missing_targets = set(via_links.values()) - written
    if missing_targets:  # targets earlier in the tar than we knew we needed them: a second pass
        _scan(deb, dest, missing_targets, package, max_bytes, budget)
        written |= missing_targets
    limit = max_bytes if max_bytes is not None else default_max_bytes(deb.stat().st_size)
    for m, target in sorted(via_links.items()):
        src = dest.joinpath(*target.split("/"))
        budget[0] += src.stat().st_size  # many links to one big file must not multiply it
        if budget[0] > limit:
            raise UnsafeArchive(package, f"link {m} takes the extracted size past {limit:,} bytes; refused")
        out = dest.joinpath(*m.split("/"))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
        written.add(m)
    if missing_targets and wanted is not None:
        for extra in missing_targets - wanted:  # only needed as a copy source
            dest.joinpath(*extra.split("/")).unlink(missing_ok=True)
            written.discard(extra)
    return sorted(written)
