"""Fetch/verify/unpack of pinned .debs with fake packages and a fake apt-get (no network)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from bench.datasets.debian import (
    ChecksumMismatch,
    DebianToolError,
    DebPin,
    MissingMember,
    PackageNotFound,
    apt_get_download,
    deb_filename,
    fetch_deb,
    member_path,
    read_copyright,
    unpack_deb,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BytesDownloader:
    def __init__(self, payload: bytes):
        self.payload = payload
        self.calls = 0

    def __call__(self, package, version, dest_dir: Path) -> Path:
        self.calls += 1
        p = dest_dir / f"{package}_{version}_all.deb"
        p.write_bytes(self.payload)
        return p


def test_pin_validation():
    DebPin("opencv-doc", "4.6.0+dfsg-12", "a" * 64)
    with pytest.raises(ValueError):
        DebPin("Bad Name", "1.0", "a" * 64)
    with pytest.raises(ValueError):
        DebPin("pkg", "1.0 beta", "a" * 64)
    with pytest.raises(ValueError):
        DebPin("pkg", "1.0", "abc")


def test_deb_filename_escapes_epoch():
    assert deb_filename("plasma-workspace-wallpapers", "4:5.27.5-2") == \
        "plasma-workspace-wallpapers_4%3a5.27.5-2.deb"


def test_fetch_downloads_once_then_uses_cache(tmp_path):
    payload = b"fake deb contents"
    pin = DebPin("fakepkg", "1.0-1", _sha(payload))
    dl = BytesDownloader(payload)
    first = fetch_deb(pin, tmp_path / "cache", downloader=dl)
    assert first.downloaded_bytes == len(payload)
    assert first.path.name == "fakepkg_1.0-1.deb" and first.path.read_bytes() == payload
    second = fetch_deb(pin, tmp_path / "cache", downloader=dl)
    assert second.downloaded_bytes == 0 and second.path == first.path
    assert dl.calls == 1
    # no temporary download directories are left behind
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fakepkg_1.0-1.deb"]


def test_checksum_mismatch_names_package_and_keeps_nothing(tmp_path):
    pin = DebPin("fakepkg", "1.0-1", _sha(b"the pinned build"))
    with pytest.raises(ChecksumMismatch) as exc:
        fetch_deb(pin, tmp_path, downloader=BytesDownloader(b"a different build"))
    err = exc.value
    assert err.package == "fakepkg"
    assert "fakepkg" in str(err) and pin.sha256 in str(err) and _sha(b"a different build") in str(err)
    assert not list(tmp_path.glob("*.deb"))


def test_corrupt_cache_entry_is_fetched_again(tmp_path):
    payload = b"good"
    pin = DebPin("fakepkg", "2", _sha(payload))
    (tmp_path / deb_filename("fakepkg", "2")).write_bytes(b"truncated")
    dl = BytesDownloader(payload)
    res = fetch_deb(pin, tmp_path, downloader=dl)
    assert dl.calls == 1 and res.path.read_bytes() == payload


def test_offline_missing_and_offline_mismatch(tmp_path):
    pin = DebPin("fakepkg", "3", _sha(b"x"))
    with pytest.raises(PackageNotFound) as exc:
        fetch_deb(pin, tmp_path, downloader=BytesDownloader(b"x"), offline=True)
    assert "fakepkg" in str(exc.value) and "offline" in str(exc.value)
    (tmp_path / deb_filename("fakepkg", "3")).write_bytes(b"y")
    with pytest.raises(ChecksumMismatch):
        fetch_deb(pin, tmp_path, offline=True)


def _fake_apt(tmp_path: Path, monkeypatch, script: str) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    apt = bindir / "apt-get"
    apt.write_text("#!/bin/sh\n" + script)
    apt.chmod(apt.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_apt_get_missing_package_is_package_not_found(tmp_path, monkeypatch):
    _fake_apt(tmp_path, monkeypatch,
              'echo "E: Unable to locate package nosuchpkg" >&2\nexit 100\n')
    with pytest.raises(PackageNotFound) as exc:
        apt_get_download("nosuchpkg", "1.0", tmp_path / "dl")
    assert "nosuchpkg=1.0" in str(exc.value) and "apt-get update" in str(exc.value)


def test_apt_get_missing_version_is_package_not_found(tmp_path, monkeypatch):
    _fake_apt(tmp_path, monkeypatch,
              "echo \"E: Version '9.9' for 'opencv-doc' was not found\" >&2\nexit 100\n")
    with pytest.raises(PackageNotFound):
        apt_get_download("opencv-doc", "9.9", tmp_path / "dl")


def test_apt_get_other_failure_is_tool_error(tmp_path, monkeypatch):
    _fake_apt(tmp_path, monkeypatch, 'echo "E: Failed to fetch (network down)" >&2\nexit 100\n')
    with pytest.raises(DebianToolError) as exc:
        apt_get_download("fakepkg", "1", tmp_path / "dl")
    assert "network down" in str(exc.value)


def test_apt_get_download_success_with_fake_apt(tmp_path, monkeypatch):
    _fake_apt(tmp_path, monkeypatch, 'echo deb > fakepkg_1.0_all.deb\nexit 0\n')
    p = apt_get_download("fakepkg", "1.0", tmp_path / "dl")
    assert p.name == "fakepkg_1.0_all.deb"


def test_unpack_real_deb_and_members(tmp_path, debkit):
    deb = debkit.make(tmp_path, "fakepkg", "1.0-1", {"usr/share/fakepkg/data.bin": b"\x00\x01"})
    dest = tmp_path / "unpacked" / "fakepkg_1.0-1"
    out = unpack_deb(deb, dest)
    assert out == dest and (dest / ".unpacked").is_file()
    assert member_path(dest, "usr/share/fakepkg/data.bin").read_bytes() == b"\x00\x01"
    assert member_path(dest, "/usr/share/fakepkg/data.bin").is_file()  # leading slash tolerated
    assert "CC-BY-4.0" in read_copyright(dest, "fakepkg")
    stamp = (dest / ".unpacked").stat().st_mtime_ns
    unpack_deb(deb, dest)  # already complete: nothing redone
    assert (dest / ".unpacked").stat().st_mtime_ns == stamp
    with pytest.raises(MissingMember) as exc:
        member_path(dest, "usr/share/fakepkg/nothere.avi", "fakepkg")
    assert "fakepkg" in str(exc.value) and "nothere.avi" in str(exc.value)
    with pytest.raises(MissingMember):
        member_path(dest, "../../etc/passwd", "fakepkg")
    with pytest.raises(MissingMember):
        read_copyright(dest, "otherpkg")


def test_unpack_garbage_is_tool_error(tmp_path):
    bad = tmp_path / "broken_1.0.deb"
    bad.write_bytes(b"not an ar archive")
    with pytest.raises(DebianToolError) as exc:
        unpack_deb(bad, tmp_path / "out")
    assert "broken" in str(exc.value)
    assert not (tmp_path / "out").exists()
