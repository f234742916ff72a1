"""Pure-Python .deb extraction (no dpkg): formats, links, and hostile packages refused by name."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

import pytest

from bench.datasets.debfile import default_max_bytes, extract_members
from bench.datasets.debian import DebianToolError, UnsafeArchive, member_path, unpack_deb


def _link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    ti.linkname = target
    return ti


def _file(name: str, data: bytes) -> tarfile.TarInfo:
    """A regular-file TarInfo whose data the test appends itself (see _tar_with)."""
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    return ti


def _tar_with(entries) -> bytes:
    """Like debkit.tar but keeps member names exactly as given (for hostile ones)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tuple):
                tar.addfile(_file(*e), io.BytesIO(e[1]))
            else:
                tar.addfile(e)
    return buf.getvalue()


@pytest.mark.parametrize("compression", ["xz", "zst", "gz", ""])
def test_extracts_only_wanted_members_from_each_compression(tmp_path, debkit, compression):
    deb = debkit.make(tmp_path, "fakepkg", "1.0-1", {"usr/share/fakepkg/clip.bin": b"\x00\x01" * 1000,
                                                     "usr/share/fakepkg/other.bin": b"unwanted"},
                      compression=compression)
    out = tmp_path / "out"
    got = extract_members(deb, out, ["usr/share/fakepkg/clip.bin", "usr/share/fakepkg/absent.bin"],
                          package="fakepkg")
    assert got == ["usr/share/fakepkg/clip.bin"]
    assert (out / "usr/share/fakepkg/clip.bin").read_bytes() == b"\x00\x01" * 1000
    assert not (out / "usr/share/fakepkg/other.bin").exists()


def test_links_are_materialised_as_copies_inside_the_package(tmp_path, debkit):
    data = _tar_with([
        ("./usr/share/a/real.jpg", b"JPEGDATA"),
        _link("./usr/share/b/rel.jpg", "../a/real.jpg"),
        _link("./usr/share/b/abs.jpg", "/usr/share/a/real.jpg"),  # dpkg-style absolute: package root
        _link("./usr/share/b/hard.jpg", "./usr/share/a/real.jpg", hard=True),
        _link("./usr/share/doc/pkg", "other"),  # a linked directory, as Debian does for doc dirs
        ("./usr/share/doc/other/copyright", b"License: MIT"),
    ])
    deb = tmp_path / "pkg_1_all.deb"
    deb.write_bytes(debkit.deb(data, "xz"))
    want = ["usr/share/b/rel.jpg", "usr/share/b/abs.jpg", "usr/share/b/hard.jpg", "usr/share/doc/pkg/copyright"]
    got = extract_members(deb, tmp_path / "out", want, package="pkg")
    assert got == sorted(want)
    for m in want[:3]:
        p = tmp_path / "out" / m
        assert not p.is_symlink() and p.read_bytes() == b"JPEGDATA"
    assert (tmp_path / "out/usr/share/doc/pkg/copyright").read_bytes() == b"License: MIT"
    assert not (tmp_path / "out/usr/share/a/real.jpg").exists()  # only needed as a copy source


@pytest.mark.parametrize("entry, needle", [
    (("../../evil.sh", b"x"), "'../../evil.sh' climbs out of the package"),
    (("./usr/../../evil.sh", b"x"), "climbs out of the package"),
    (("/etc/cron.d/evil", b"x"), "'/etc/cron.d/evil' has an absolute path"),
    (_link("./usr/share/pkg/escape", "../../../../etc/passwd"), "symlink usr/share/pkg/escape -> "
                                                                "../../../../etc/passwd points outside"),
    (_link("./usr/share/pkg/hard", "../../etc/shadow", hard=True), "climbs out of the package"),
])
def test_hostile_members_are_refused_by_name(tmp_path, debkit, entry, needle):
    data = _tar_with([("./usr/share/doc/pkg/copyright", b"ok"), entry])
    deb = tmp_path / "pkg_1_all.deb"
    deb.write_bytes(debkit.deb(data, "xz"))
    out = tmp_path / "sandbox" / "out"
    with pytest.raises(UnsafeArchive) as exc:
        extract_members(deb, out, ["usr/share/doc/pkg/copyright"], package="pkg")
    assert exc.value.package == "pkg" and needle in str(exc.value) and "refused" in str(exc.value)
    # nothing was written outside the destination
    assert sorted(p.name for p in (tmp_path / "sandbox").iterdir()) == ["out"] or not out.exists()
    assert not (tmp_path / "evil.sh").exists()


def test_hostile_package_leaves_no_unpacked_dir(tmp_path, debkit):
    deb = tmp_path / "evil_1.deb"
    deb.write_bytes(debkit.deb(_tar_with([("../evil", b"x")]), "gz"))
    dest = tmp_path / "unpacked" / "evil_1"
    with pytest.raises(UnsafeArchive):
        unpack_deb(deb, dest, members=["usr/x"])
    assert not dest.exists() and not dest.with_name("evil_1.partial").exists()


@pytest.mark.parametrize("compression", ["xz", "zst"])
def test_decompression_bomb_is_refused(tmp_path, debkit, compression):
    zeros = b"\0" * (8 * 1024 * 1024)  # compresses ~1000x
    deb = tmp_path / "bomb_1_all.deb"
    deb.write_bytes(debkit.deb(debkit.tar([("usr/share/bomb/zeros", zeros)]), compression))
    assert deb.stat().st_size < 64 * 1024
    with pytest.raises(UnsafeArchive) as exc:
        extract_members(deb, tmp_path / "out", None, package="bomb", max_bytes=1024 * 1024)
    assert "bomb" in str(exc.value) and "decompression bomb" in str(exc.value)
    written = tmp_path / "out/usr/share/bomb/zeros"
    assert not written.exists() or written.stat().st_size <= 1024 * 1024


def test_link_copies_count_against_the_cap(tmp_path, debkit):
    big = b"x" * 300_000
    data = _tar_with([("./a/big", big)] + [_link(f"./a/l{i}", "big") for i in range(10)])
    deb = tmp_path / "links_1_all.deb"
    deb.write_bytes(debkit.deb(data, "xz"))
    with pytest.raises(UnsafeArchive) as exc:
        extract_members(deb, tmp_path / "out", None, package="links", max_bytes=1_000_000)
    assert "link a/l" in str(exc.value)


def test_default_cap_allows_real_packages_and_scales():
    # gnome-user-docs, the most compressible frames1k package, expands 8.0x
    assert default_max_bytes(8_264_940) >= 8 * 8_264_940
    assert default_max_bytes(1000) == 256 * 1024 * 1024
    assert default_max_bytes(100_000_000) == 50 * 100_000_000


@pytest.mark.parametrize("payload, needle", [
    (b"not an ar archive", "not a Debian package"),
    (b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n", "no data.tar member"),
])
def test_corrupt_packages_are_tool_errors(tmp_path, payload, needle):
    deb = tmp_path / "broken_1.deb"
    deb.write_bytes(payload)
    with pytest.raises(DebianToolError) as exc:
        extract_members(deb, tmp_path / "out", None, package="broken")
    assert needle in str(exc.value) and "broken" in str(exc.value)


def test_truncated_data_tar_is_tool_error(tmp_path, debkit):
    deb = debkit.make(tmp_path, "cut", "1", {"usr/share/cut/blob": os.urandom(200_000)})
    deb.write_bytes(deb.read_bytes()[:120_000])
    with pytest.raises(DebianToolError) as exc:
        extract_members(deb, tmp_path / "out", None, package="cut")
    assert "cut" in str(exc.value)


def test_unpack_adds_members_when_the_spec_asks_for_more(tmp_path, debkit):
    deb = debkit.make(tmp_path, "pkg", "1", {"usr/a": b"A", "usr/b": b"B"})
    dest = tmp_path / "unpacked" / "pkg_1"
    unpack_deb(deb, dest, members=["usr/a"])
    assert (dest / "usr/a").exists() and not (dest / "usr/b").exists()
    stamp = (dest / ".unpacked").stat().st_mtime_ns
    unpack_deb(deb, dest, members=["usr/a"])  # nothing new: not redone
    assert (dest / ".unpacked").stat().st_mtime_ns == stamp
    unpack_deb(deb, dest, members=["usr/b"])  # union
    assert member_path(dest, "usr/a").read_bytes() == b"A" and member_path(dest, "usr/b").read_bytes() == b"B"


def test_old_dpkg_stamp_means_everything_is_there(tmp_path, debkit):
    deb = debkit.make(tmp_path, "pkg", "1", {"usr/a": b"A"})
    dest = tmp_path / "unpacked" / "pkg_1"
    (dest / "usr").mkdir(parents=True)
    (dest / "usr/a").write_bytes(b"A")
    import hashlib

    (dest / ".unpacked").write_text(hashlib.sha256(deb.read_bytes()).hexdigest() + "\n")  # the old format
    before = (dest / ".unpacked").stat().st_mtime_ns
    unpack_deb(deb, dest, members=["usr/a"])
    assert (dest / ".unpacked").stat().st_mtime_ns == before


@pytest.mark.parametrize("compression", ["xz", "zst", "gz"])
def test_same_bytes_as_dpkg_x(tmp_path, debkit, needs_dpkg, compression):
    files = {"usr/share/p/clip.bin": os.urandom(50_000), "usr/share/p/sub/readme": b"hello\n"}
    deb = debkit.make_dpkg(tmp_path, "p", "1", files, compression=compression)
    ours = tmp_path / "ours"
    extract_members(deb, ours, None, package="p")
    theirs = tmp_path / "dpkg"
    subprocess.run(["dpkg", "-x", str(deb), str(theirs)], check=True)
    listing = sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*") if p.is_file())
    assert listing == sorted(str(p.relative_to(ours)) for p in ours.rglob("*") if p.is_file())
    for rel in listing:
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes()
