"""Fixtures for the dataset builder tests: tiny videos made with PyAV, fake .debs.

Nothing here touches the network: videos are encoded in the test, packages are
written locally (ar + tar in pure Python, or dpkg-deb where a test asks for it),
and "downloads" are copies made by a fake downloader or served by a mirror on
127.0.0.1 (``test_ds_mirror.py``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FPS = 10
N_FRAMES = 30
STEP = 7  # luma step between consecutive frames


def make_video(path: Path, *, n: int = N_FRAMES, fps: int = FPS, size=(96, 64),
               codec: str = "libx264", pts_offset: int = 0) -> Path:
    """Encode ``n`` frames; frame i is uniform grey ``40 + STEP*i`` with a white square.

    The grey level identifies the frame after decoding (see ``frame_index``).
    """
    import av

    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        if codec == "libx264":
            stream.options = {"qp": "0", "bframes": "2"}  # lossless luma, B-frames reorder
        for i in range(n):
            arr = np.full((h, w, 3), 40 + STEP * i, dtype=np.uint8)
            arr[4:12, 4:12] = 255  # some structure so the frame is not "blank"
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i + pts_offset
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frame_index(img: Image.Image) -> int:
    """Recover the encoded frame number from the grey level of a decoded frame."""
    arr = np.asarray(img.convert("L"), dtype=np.float64)
    grey = np.median(arr[20:, 20:])
    return int(round((grey - 40) / STEP))


class VideoKit:
    """Handed to tests as the ``vid`` fixture (conftest helpers are not imported)."""

    FPS = FPS
    N = N_FRAMES
    make = staticmethod(make_video)
    index = staticmethod(frame_index)


@pytest.fixture
def vid() -> VideoKit:
    return VideoKit()


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    return make_video(tmp_path / "tiny.mp4")


@pytest.fixture
def needs_dpkg():
    if shutil.which("dpkg-deb") is None or shutil.which("dpkg") is None:
        pytest.skip("dpkg-deb/dpkg not available (not a Debian machine)")

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fakepkg

Files: *
Copyright: 2026 Test Author <test@example.org>
License: CC-BY-4.0
 Attribution licence text would be here.
"""


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """An ``ar`` archive (the .deb container) of ``(name, data)`` members."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode() + b"`\n"
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "xz":
        import lzma

        return lzma.compress(data)
    if compression == "gz":
        import gzip

        return gzip.compress(data, mtime=0)
    if compression == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    assert compression == "", compression
    return data


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """A tarball of ``(path, data)`` files (leading ``./``, as dpkg-deb writes) or raw TarInfos."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
                continue
            path, data = e
            ti = tarfile.TarInfo("./" + path.lstrip("/"))
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def deb_bytes(data_tar: bytes, compression: str = "xz") -> bytes:
    """A .deb (ar: debian-binary, control.tar.xz, data.tar.<compression>) around ``data_tar``."""
    control = tar_bytes([("control", b"Package: x\nVersion: 1\nArchitecture: all\n")])
    suffix = f".{compression}" if compression else ""
    return ar_archive([("debian-binary", b"2.0\n"), ("control.tar.xz", compress(control, "xz")),
                       (f"data.tar{suffix}", compress(data_tar, compression))])


def make_deb(workdir: Path, package: str, version: str, files: dict[str, bytes | Path],
             copyright_text: str = COPYRIGHT, compression: str = "xz") -> Path:
    """Write a real (tiny) .deb holding ``files`` and a copyright file, without dpkg."""
    docs = {f"usr/share/doc/{package}/copyright": copyright_text.encode()}
    entries = [(rel, c.read_bytes() if isinstance(c, Path) else c) for rel, c in {**docs, **files}.items()]
    deb = workdir / f"{package}_{version.replace(':', '%3a')}_all.deb"
    deb.write_bytes(deb_bytes(tar_bytes(entries), compression))
    return deb


def make_deb_dpkg(workdir: Path, package: str, version: str, files: dict[str, bytes | Path],
                  compression: str = "xz") -> Path:
    """The same with ``dpkg-deb --build`` (Debian machines only: the ``needs_dpkg`` fixture)."""
    root = workdir / f"{package}-root"
    if root.exists():
        shutil.rmtree(root)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: capbench tests <tests@example.org>\nDescription: test package\n")
    docs = {f"usr/share/doc/{package}/copyright": COPYRIGHT.encode()}
    for rel, content in {**docs, **files}.items():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, dest)
        else:
            dest.write_bytes(content)
    deb = workdir / f"{package}_{version}_all.deb"
    ztype = {"xz": "xz", "gz": "gzip", "zst": "zstd", "": "none"}[compression]
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{ztype}", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


class FakeDownloader:
    """Stands in for ``apt-get download``: copies prepared .debs, counts calls."""

    def __init__(self, debs: dict[str, Path]):
        self.debs = debs
        self.calls: list[tuple[str, str]] = []

    def __call__(self, package: str, version: str, dest_dir: Path) -> Path:
        from bench.datasets.debian import PackageNotFound

        self.calls.append((package, version))
        if package not in self.debs:
            raise PackageNotFound(package, f"apt-get cannot find {package}={version}")
        dest = dest_dir / f"{package}_{version}_all.deb"
        shutil.copyfile(self.debs[package], dest)
        return dest


class DebKit:
    """Handed to tests as the ``debkit`` fixture: makes .debs in pure Python (any OS)."""

    COPYRIGHT = COPYRIGHT
    make = staticmethod(make_deb)
    make_dpkg = staticmethod(make_deb_dpkg)
    tar = staticmethod(tar_bytes)
    deb = staticmethod(deb_bytes)
    ar = staticmethod(ar_archive)
    Downloader = FakeDownloader


@pytest.fixture
def debkit() -> DebKit:
    return DebKit()
