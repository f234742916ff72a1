"""Building from a Debian mirror without apt or dpkg: a pool/ layout served on 127.0.0.1.

The mirror is a real HTTP server started by the test (Range support included);
per-file behaviours stand in for the failures of real mirrors: 404, a wrong
build, a body cut short, a server that stops answering.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from PIL import Image

from bench.datasets import build, load_spec
from bench.datasets.__main__ import main as cli_main
from bench.datasets.debian import DebPin, DownloadError, PackageNotFound, deb_filename
from bench.datasets.mirror import MIRROR_ENV, MirrorOptions, download_from_mirrors, mirrors_from_env, pool_path

FAST = MirrorOptions(attempts=2, backoff_s=0.01, connect_timeout_s=2.0, read_timeout_s=0.5)


class Mirror:
    """A pool/ layout served over HTTP on 127.0.0.1; ``modes[path]`` picks a behaviour."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}  # ok | truncate | truncate_once | hang | no_range | 503_once
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.release = threading.Event()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                rng = self.headers.get("Range")
                mirror.requests.append((path, rng))
                mode = mirror.modes.get(path, "ok")
                if path not in mirror.files:
                    self.send_error(404)
                    return
                data = mirror.files[path]
                if mode == "hang":
                    mirror.release.wait(10)
                    return
                if mode == "503_once":
                    mirror.modes[path] = "ok"
                    self.send_error(503)
                    return
                start = 0
                if rng and mode != "no_range":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode in ("truncate", "truncate_once"):
                    if mode == "truncate_once":
                        mirror.modes[path] = "ok"
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/debian"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, package: str, version: str, deb: Path, mode: str = "ok") -> str:
        """Put ``deb`` at its pool path (under /debian, as on a real mirror); returns the pool path."""
        rel = pool_path(package, version)
        self.files["debian/" + rel] = deb.read_bytes()
        self.modes["debian/" + rel] = mode
        return rel

    def hits(self, rel: str) -> list[str | None]:
        return [r for p, r in self.requests if p == "debian/" + rel]


@pytest.fixture
def mirror():
    m = Mirror()
    m.thread.start()
    yield m
    m.release.set()
    m.server.shutdown()
    m.server.server_close()


@pytest.fixture
def no_apt(tmp_path, monkeypatch):
    """apt-get (and dpkg) hidden: PATH is an empty directory."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(MIRROR_ENV, raising=False)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _photo(seed: int) -> bytes:
    img = Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 160))
    img.paste((255, 255, 255), (4, 4, 20, 20))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


LICENCE = {"licence": "CC-BY-4.0", "licence_evidence": "License: CC-BY-4.0", "attribution": "2026 Test Author"}


def _world(tmp_path, debkit, mirror, modes: dict[str, str]):
    """One still per package, each package compressed differently; returns the spec dir."""
    packages, sources = {}, []
    compressions = ["xz", "zst", "gz"]
    for i, (pkg, mode) in enumerate(modes.items()):
        member = f"usr/share/{pkg}/still.png"
        deb = debkit.make(tmp_path, pkg, "1.0-1", {member: _photo(i)}, compression=compressions[i % 3])
        pinned = _sha(deb) if mode != "wrongsum" else hashlib.sha256(b"the pinned build").hexdigest()
        packages[pkg] = {"version": "1.0-1", "sha256": pinned, "size": deb.stat().st_size}
        if mode != "404":
            mirror.add(pkg, "1.0-1", deb, "ok" if mode == "wrongsum" else mode)
        sources.append({"name": pkg, "package": pkg, "path": member, "kind": "still",
                        "content_type": "photograph", **LICENCE})
    ds = tmp_path / "datasets" / "mini"
    ds.mkdir(parents=True, exist_ok=True)
    (ds / "sources.yaml").write_text(yaml.safe_dump({"dataset": "mini", "output": {"max_side": 64},
                                                     "packages": packages, "sources": sources}, sort_keys=False))
    return ds


def test_build_without_apt_fetches_verifies_and_unpacks_from_the_mirror(tmp_path, debkit, mirror, no_apt):
    ds = _world(tmp_path, debkit, mirror, {"pkg-xz": "ok", "pkg-zst": "ok", "pkg-gz": "ok"})
    logs = []
    report = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", mirrors=[mirror.url],
                   mirror_options=FAST, log=logs.append)
    assert report.ok, report.summary()
    assert report.fetched_packages == 3 and report.frames == 3 and report.written == 3
    assert sorted(p.name for p in (ds / "images").iterdir()) == ["pkg-gz.jpg", "pkg-xz.jpg", "pkg-zst.jpg"]
    assert any("apt-get not found" in line for line in logs)  # why apt was passed over is said
    assert any(mirror.url in line for line in logs)
    # a second build downloads nothing
    n = len(mirror.requests)
    again = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", mirrors=[mirror.url], mirror_options=FAST,
                  log=lambda _m: None)
    assert again.ok and again.downloaded_bytes == 0 and again.cached_packages == 3 and len(mirror.requests) == n
    assert again.written == 0 and again.unchanged == 3


def test_each_bad_source_is_named_while_the_others_build(tmp_path, debkit, mirror, no_apt):
    modes = {"good-xz": "ok", "good-zst": "ok", "wrongsum": "wrongsum", "gone": "404",
             "cut": "truncate", "hung": "hang"}
    ds = _world(tmp_path, debkit, mirror, modes)
    spec_doc = yaml.safe_load((ds / "sources.yaml").read_text())
    spec_doc["sources"].append({"name": "ghost", "package": "good-xz", "path": "usr/share/good-xz/not-there.png",
                                "kind": "still", "content_type": "photograph", **LICENCE})
    (ds / "sources.yaml").write_text(yaml.safe_dump(spec_doc, sort_keys=False))
    t0 = time.monotonic()
    report = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", mirrors=[mirror.url],
                   mirror_options=FAST, log=lambda _m: None)
    assert time.monotonic() - t0 < 30  # the hung server costs attempts x read timeout, not forever
    assert not report.ok
    fails = "\n".join(report.failures)
    url = lambda pkg: f"{mirror.url}/{pool_path(pkg, '1.0-1')}"  # noqa: E731
    assert f"wrongsum: sha256 mismatch for wrongsum_1.0-1.deb from {url('wrongsum')}" in fails
    assert f"gone: {url('gone')} answered 404" in fails and "snapshot archive" in fails
    assert f"cut: gave up after 2 attempts: {url('cut')}" in fails
    assert f"hung: gave up after 2 attempts: {url('hung')}: no answer within 0.5 s" in fails
    assert "source ghost (good-xz:usr/share/good-xz/not-there.png)" in fails and "not in the package" in fails
    # one cause per bad source, and each of their frames named as missing; no other failure
    causes = [f for f in report.failures if "no image" not in f]
    assert len(causes) == 5, causes
    assert sorted(f.split(":")[0] for f in report.failures if "no image" in f) == \
        ["cut", "ghost", "gone", "hung", "wrongsum"]
    # the good sources were built all the same
    assert sorted(p.name for p in (ds / "images").iterdir()) == ["good-xz.jpg", "good-zst.jpg"]
    # nothing unverified is kept under a cache name; the truncated download is kept to resume
    cache = tmp_path / "cache"
    assert not (cache / deb_filename("wrongsum", "1.0-1")).exists()
    assert not (cache / (deb_filename("wrongsum", "1.0-1") + ".part")).exists()
    part = cache / (deb_filename("cut", "1.0-1") + ".part")
    assert 0 < part.stat().st_size < len(mirror.files["debian/" + pool_path("cut", "1.0-1")])


def test_interrupted_download_resumes_with_range(tmp_path, debkit, mirror, no_apt):
    ds = _world(tmp_path, debkit, mirror, {"big": "truncate"})
    spec = load_spec(ds / "sources.yaml")
    one = MirrorOptions(attempts=1, backoff_s=0.01, read_timeout_s=2.0)
    first = build(spec, tmp_path / "cache", mirrors=[mirror.url], mirror_options=one, log=lambda _m: None)
    assert not first.ok and "resumes from there" in first.failures[0]
    part = tmp_path / "cache" / (deb_filename("big", "1.0-1") + ".part")
    have = part.stat().st_size
    assert have > 0
    rel = pool_path("big", "1.0-1")
    mirror.modes["debian/" + rel] = "ok"  # the mirror recovers
    second = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", mirrors=[mirror.url], mirror_options=one,
                   log=lambda _m: None)
    assert second.ok, second.summary()
    assert mirror.hits(rel) == [None, f"bytes={have}-"]
    assert second.downloaded_bytes == len(mirror.files["debian/" + rel]) - have
    assert not part.exists() and (tmp_path / "cache" / deb_filename("big", "1.0-1")).is_file()


def test_retry_within_one_build_resumes_and_backs_off(tmp_path, debkit, mirror):
    deb = debkit.make(tmp_path, "flaky", "1", {"usr/x": b"y" * 100_000})
    rel = mirror.add("flaky", "1", deb, "truncate_once")
    pin = DebPin("flaky", "1", _sha(deb), rel)
    sleeps = []
    url, got = download_from_mirrors(pin, rel, [mirror.url], tmp_path / "flaky_1.deb", options=FAST,
                                     sleep=sleeps.append)
    assert (tmp_path / "flaky_1.deb").read_bytes() == deb.read_bytes()
    assert url == f"{mirror.url}/{rel}" and got == deb.stat().st_size
    assert mirror.hits(rel)[0] is None and mirror.hits(rel)[1].startswith("bytes=")
    assert sleeps == [0.01]


def test_server_errors_are_retried_and_a_server_ignoring_range_restarts(tmp_path, debkit, mirror):
    deb = debkit.make(tmp_path, "pp", "1", {"usr/x": b"z" * 50_000})
    rel = mirror.add("pp", "1", deb, "503_once")
    pin = DebPin("pp", "1", _sha(deb), rel)
    target = tmp_path / "pp_1.deb"
    download_from_mirrors(pin, rel, [mirror.url], target, options=FAST, sleep=lambda _s: None)
    assert target.read_bytes() == deb.read_bytes()
    # a stale part and a server that answers 200 to a Range request: the part is replaced
    target.unlink()
    (tmp_path / "pp_1.deb.part").write_bytes(b"garbage-prefix")
    mirror.modes["debian/" + rel] = "no_range"
    download_from_mirrors(pin, rel, [mirror.url], target, options=FAST, sleep=lambda _s: None)
    assert target.read_bytes() == deb.read_bytes()


def test_mirrors_are_tried_in_order(tmp_path, debkit, mirror):
    deb = debkit.make(tmp_path, "pp", "1", {"usr/x": b"1"})
    rel = mirror.add("pp", "1", deb)
    pin = DebPin("pp", "1", _sha(deb), rel)
    empty_mirror = mirror.url.replace("/debian", "/nothing-here")
    url, _ = download_from_mirrors(pin, rel, [empty_mirror, mirror.url], tmp_path / "p.deb", options=FAST)
    assert url.startswith(mirror.url + "/")
    with pytest.raises(PackageNotFound) as exc:
        download_from_mirrors(pin, rel, [empty_mirror], tmp_path / "q.deb", options=FAST)
    assert f"{empty_mirror}/{rel} answered 404" in str(exc.value)


def test_apt_stays_the_default_where_it_works(tmp_path, debkit, mirror, monkeypatch):
    ds = _world(tmp_path, debkit, mirror, {"viaapt": "ok"})
    deb = next(tmp_path.glob("viaapt_*.deb"))
    dl = debkit.Downloader({"viaapt": deb})
    report = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", downloader=dl, mirrors=[mirror.url],
                   mirror_options=FAST, log=lambda _m: None)
    assert report.ok and dl.calls == [("viaapt", "1.0-1")] and mirror.requests == []


def test_apt_missing_the_version_falls_back_to_the_mirror(tmp_path, debkit, mirror, monkeypatch):
    ds = _world(tmp_path, debkit, mirror, {"notinapt": "ok"})
    dl = debkit.Downloader({})  # apt that has no such package
    logs = []
    report = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", downloader=dl, mirrors=[mirror.url],
                   mirror_options=FAST, log=logs.append)
    assert report.ok and dl.calls == [("notinapt", "1.0-1")] and len(mirror.requests) == 1
    assert any("apt-get cannot find notinapt=1.0-1" in line for line in logs)


def test_no_apt_and_no_mirror_says_how_to_fix(tmp_path, debkit, mirror, no_apt):
    ds = _world(tmp_path, debkit, mirror, {"pp": "ok"})
    report = build(load_spec(ds / "sources.yaml"), tmp_path / "cache", log=lambda _m: None)
    assert not report.ok
    assert "pp: apt-get not found" in report.failures[0] and f"{MIRROR_ENV}=URL" in report.failures[0]
    assert "snapshot.debian.org/archive/debian/" in report.failures[0]


def test_cli_mirror_flag_env_var_and_mirror_command_round_trip(tmp_path, debkit, mirror, no_apt, monkeypatch,
                                                              capsys):
    ds = _world(tmp_path, debkit, mirror, {"p1": "ok", "p2": "ok"})
    root = str(ds.parent)
    assert cli_main(["build", "mini", "--root", root, "--cache-dir", str(tmp_path / "c1"), "-q",
                     "--mirror", mirror.url]) == 0
    # lay the cache out as a mirror, serve that, and build from it via the environment variable
    out = tmp_path / "laid-out"
    assert cli_main(["mirror", "mini", str(out), "--root", root, "--cache-dir", str(tmp_path / "c1")]) == 0
    assert (out / pool_path("p1", "1.0-1")).read_bytes() == mirror.files["debian/" + pool_path("p1", "1.0-1")]
    second = Mirror()
    second.files = {"debian/" + str(p.relative_to(out)).replace("\\", "/"): p.read_bytes()
                    for p in out.rglob("*.deb")}
    second.thread.start()
    try:
        monkeypatch.setenv(MIRROR_ENV, f"{second.url}")
        assert mirrors_from_env() == [second.url]
        for img in (ds / "images").iterdir():
            img.unlink()
        assert cli_main(["build", "mini", "--root", root, "--cache-dir", str(tmp_path / "c2"), "-q"]) == 0
        assert len(second.requests) == 2
        assert cli_main(["build", "mini", "--root", root, "--cache-dir", str(tmp_path / "c2"), "--check"]) == 0
        assert "rebuilt byte-identical: 2" in capsys.readouterr().out
    finally:
        second.server.shutdown()
        second.server.server_close()
    # a package missing from the cache is named by the mirror command
    (tmp_path / "c1" / deb_filename("p2", "1.0-1")).unlink()
    assert cli_main(["mirror", "mini", str(tmp_path / "m2"), "--root", root, "--cache-dir", str(tmp_path / "c1")]) == 1
    assert "p2_1.0-1.deb" in capsys.readouterr().err


def test_pool_paths():
    assert pool_path("opencv-doc", "4.6.0+dfsg-12", source="opencv") == \
        "pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb"
    assert pool_path("plasma-workspace-wallpapers", "4:5.27.5-2") == \
        "pool/main/p/plasma-workspace-wallpapers/plasma-workspace-wallpapers_5.27.5-2_all.deb"  # no epoch
    assert pool_path("libfoo1", "1.0-1", source="libfoo", arch="amd64") == \
        "pool/main/libf/libfoo/libfoo1_1.0-1_amd64.deb"
    assert mirrors_from_env({MIRROR_ENV: "https://a/debian, https://b/debian"}) == ["https://a/debian",
                                                                                     "https://b/debian"]
    with pytest.raises(ValueError, match="pool path"):
        DebPin("pp", "1", "a" * 64, "pool/main/p/../../etc/pp_1_all.deb")
    with pytest.raises(ValueError, match="pool path"):
        DebPin("pp", "1", "a" * 64, "/pool/main/p/pp/pp_1_all.deb")


def test_spec_records_or_derives_the_pool_path(tmp_path):
    doc = {"dataset": "x", "packages": {
        "aa": {"version": "1", "sha256": "a" * 64, "filename": "pool/main/s/src/aa_1_all.deb"},
        "bb": {"version": "2:1", "sha256": "b" * 64, "source": "bsrc", "arch": "amd64"},
        "cc": {"version": "1", "sha256": "c" * 64}},
        "sources": [{"name": n, "package": n, "path": "usr/x.png", "kind": "still", "content_type": "photograph",
                     "licence": "MIT"} for n in ("aa", "bb", "cc")]}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(doc))
    pins = {k: v.pin for k, v in load_spec(tmp_path / "sources.yaml").packages.items()}
    assert pins["aa"].pool_path == "pool/main/s/src/aa_1_all.deb"
    assert pins["bb"].pool_path == "pool/main/b/bsrc/bb_1_amd64.deb"
    assert pins["cc"].pool_path == "pool/main/c/cc/cc_1_all.deb"


def test_shipped_specs_record_a_pool_path_for_every_package():
    root = Path(__file__).resolve().parents[2] / "datasets"
    for name in ("sample", "frames1k"):
        for pkg, ps in load_spec(root / name / "sources.yaml").packages.items():
            assert ps.pin.filename and ps.pin.filename.startswith("pool/main/"), (name, pkg)
            assert f"/{pkg}_" in ps.pin.filename


def test_download_error_is_a_named_debian_error():
    err = DownloadError("pp", "gave up")
    assert err.package == "pp" and str(err) == "pp: gave up"
