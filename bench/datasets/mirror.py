"""Download a pinned .deb from a Debian mirror over HTTP(S), resumably, with retries.

A mirror is the root of a Debian archive: the directory that holds ``pool/``
(``https://deb.debian.org/debian`` for current versions, or a snapshot archive
``https://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ>`` for every
version ever published).  A package is fetched by its pool path (Debian's
``Filename:`` field, recorded in the spec), e.g.
``pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb``.

The bytes go to ``<cache>/<name>.deb.part`` first.  An interrupted download is
resumed with an HTTP ``Range`` request (a server that ignores Range sends the
whole file, which then replaces the part).  Timeouts, connection errors,
truncated bodies, 408/429 and 5xx are retried with exponential backoff; a 404
moves on to the next mirror.  The sha256 is checked before the file is kept
under its cache name.  Mirrors come from ``--mirror`` or the environment
variable ``CAPBENCH_DEBIAN_MIRROR`` (several separated by spaces or commas,
tried in order).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .errors import ChecksumMismatch, DebianError, DownloadError, PackageNotFound

__all__ = ["MIRROR_ENV", "MIRROR_HELP", "MirrorOptions", "mirrors_from_env", "pool_path", "pool_url",
           "download_from_mirrors"]

MIRROR_ENV = "CAPBENCH_DEBIAN_MIRROR"
MIRROR_HELP = (f"set a Debian mirror with --mirror URL or {MIRROR_ENV}=URL: https://deb.debian.org/debian "
               "has the current versions, https://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ> "
               "every version ever published (README, 'Datasets')")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class MirrorOptions:
    attempts: int = 4  # per mirror
    backoff_s: float = 1.0  # sleep backoff_s * 2**attempt between attempts
    connect_timeout_s: float = 15.0
    read_timeout_s: float = 60.0  # no byte for this long: the attempt failed (a hung server)
    user_agent: str = "capbench-datasets"


def mirrors_from_env(env: dict | None = None) -> list[str]:
    raw = (env if env is not None else os.environ).get(MIRROR_ENV, "")
    return [m for m in re.split(r"[\s,]+", raw) if m]


def pool_path(package: str, version: str, *, source: str | None = None, arch: str = "all",
              component: str = "main") -> str:
    """Debian's pool path for a binary package (what ``Filename:`` says in a Packages index).

    The directory is the *source* package's, under its first letter (``lib`` +
    one letter for ``lib*``); the file name drops the version's epoch.
    """
    src = source or package
    prefix = src[:4] if src.startswith("lib") and len(src) > 3 else src[0]
    bare = version.split(":", 1)[1] if ":" in version else version
    return f"pool/{component}/{prefix}/{src}/{package}_{bare}_{arch}.deb"


def pool_url(mirror: str, filename: str) -> str:
    return mirror.rstrip("/") + "/" + filename.lstrip("/")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class _Retry(Exception):
    pass


def _attempt(client: httpx.Client, url: str, part: Path, size: int | None, package: str, got: list[int]) -> None:
    """One GET (ranged when a part exists); adds to ``got[0]``; raises _Retry for transient trouble."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is not None and have == size:
        return  # complete from an earlier run; the checksum decides
    headers = {"Range": f"bytes={have}-"} if have else {}
    with client.stream("GET", url, headers=headers) as r:
        if r.status_code in (404, 410):
            raise PackageNotFound(package, f"{url} answered {r.status_code}: this mirror does not have "
                                  "the pinned version (a regular mirror drops replaced versions; "
                                  "a snapshot archive keeps them all)")
        if r.status_code == 416:  # our part is not a prefix the server recognises: start over
            part.unlink(missing_ok=True)
            raise _Retry(f"{url} answered 416 to a resume; restarting the download")
        if r.status_code in _RETRY_STATUS:
            raise _Retry(f"{url} answered {r.status_code}")
        if r.status_code not in (200, 206):
            raise DownloadError(package, f"{url} answered {r.status_code}; fix: check the mirror URL "
                                "(it must be the directory that holds pool/)")
        start = 0
        if r.status_code == 206:
            m = re.match(r"bytes (\d+)-", r.headers.get("content-range", ""))
            start = int(m.group(1)) if m else -1
            if start != have:
                part.unlink(missing_ok=True)
                raise _Retry(f"{url} resumed at {r.headers.get('content-range')!r}, not at byte {have}")
        expected = r.headers.get("content-length")
        n = 0
        with open(part, "ab" if start else "wb") as f:
            try:
                for chunk in r.iter_bytes():  # as received: an interruption keeps every byte so far
                    f.write(chunk)
                    n += len(chunk)
                    got[0] += len(chunk)
            except httpx.TransportError as exc:  # reset/timeout/truncated mid-body: keep what we have
                raise _Retry(f"{url}: download interrupted after {start + n} bytes ({exc!r})") from exc
        if expected is not None and n < int(expected):
            raise _Retry(f"{url}: truncated, {n} of {expected} bytes")


def _from_one(client, url: str, part: Path, pin, size, opts: MirrorOptions, sleep, got: list[int]) -> None:
    last = ""
    for i in range(opts.attempts):
        try:
            _attempt(client, url, part, size, pin.package, got)
            return
        except _Retry as exc:
            last = str(exc)
        except httpx.TimeoutException as exc:
            last = f"{url}: no answer within {opts.read_timeout_s:g} s ({type(exc).__name__})"
        except httpx.TransportError as exc:
            last = f"{url}: {type(exc).__name__}: {exc}"
        if i + 1 < opts.attempts:
            sleep(opts.backoff_s * 2 ** i)
    kept = part.stat().st_size if part.exists() else 0
    raise DownloadError(
        pin.package, f"gave up after {opts.attempts} attempts: {last}. "
        + (f"{kept} bytes are kept in {part} and the next build resumes from there. " if kept else "")
        + "Fix: check the network and the mirror, or name another mirror (--mirror / "
        f"{MIRROR_ENV})")


def download_from_mirrors(pin, filename: str, mirrors: Sequence[str], target: Path, *, size: int | None = None,
                          options: MirrorOptions | None = None,
                          sleep: Callable[[float], None] = time.sleep) -> tuple[str, int]:
    """Fetch ``filename`` from the first mirror that has it; verify; move to ``target``.

    Returns (URL, bytes transferred in this call).  Raises the last mirror's
    error (PackageNotFound, DownloadError or ChecksumMismatch), naming the URL.
    """
    opts = options or MirrorOptions()
    if not mirrors:
        raise PackageNotFound(pin.package, f"not fetched: no Debian mirror is set; {MIRROR_HELP}")
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    timeout = httpx.Timeout(opts.read_timeout_s, connect=opts.connect_timeout_s)
    error: DebianError | None = None
    got = [0]
    with httpx.Client(timeout=timeout, follow_redirects=True, headers={"user-agent": opts.user_agent}) as client:
        for mirror in mirrors:
            url = pool_url(mirror, filename)
            try:
                _from_one(client, url, part, pin, size, opts, sleep, got)
            except DebianError as exc:
                error = exc
                continue
            actual = _sha256(part)
            if actual != pin.sha256:
                part.unlink()  # a wrong file is never resumed from
                error = ChecksumMismatch(pin.package, target, pin.sha256, actual, where=f" from {url}")
                continue
            os.replace(part, target)
            return url, got[0]
    assert error is not None
    raise error
