"""CLI: build or verify a frame dataset from its pinned spec.

    python -m bench.datasets build sample            # fetch, cut, write (idempotent)
    python -m bench.datasets build sample --check    # verify; never downloads or writes
    python -m bench.datasets list                    # datasets that have a sources.yaml
    python -m bench.datasets build frames1k --mirror https://deb.debian.org/debian
                                                     # where apt-get is missing or lacks the pinned versions
    python -m bench.datasets mirror frames1k DIR     # lay the cached .debs out as a mirror (DIR/pool/...)

Any dataset with ``datasets/<name>/sources.yaml`` can be built the same way
(``build sample``, ``build frames1k``).  Exit status: 0 when every
source built (or verified), 1 when any failed (each failure is named), 2 for a
bad command line or spec.

Without apt (macOS, Windows, non-Debian Linux) or when apt does not have a
pinned version, packages are downloaded from the Debian mirror(s) given with
``--mirror`` or ``CAPBENCH_DEBIAN_MIRROR`` (see the README's Datasets section).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from . import DEFAULT_CACHE, SpecError, build, find_spec, load_spec
from .debian import deb_filename
from .mirror import MIRROR_ENV


def _dataset_roots(root: str | None) -> list[Path]:
    if root:
        return [Path(root)]
    return [Path("datasets"), Path(__file__).resolve().parents[2] / "datasets"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.datasets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or --check) a dataset from datasets/NAME/sources.yaml")
    b.add_argument("name", help="dataset name, e.g. sample")
    b.add_argument("--check", action="store_true",
                   help="verify committed images, manifest and NOTICE; no network, no writes. "
                        "Sources whose .deb is cached are rebuilt in memory and compared byte "
                        "for byte, the others are only hashed")
    b.add_argument("--offline", action="store_true",
                   help="build from the cache only; a missing .deb is a failure")
    b.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                   help="where .deb files are kept and unpacked (default: %(default)s)")
    b.add_argument("--root", default=None, help="directory holding the datasets (default: ./datasets)")
    b.add_argument("--mirror", action="append", default=None, metavar="URL",
                   help=f"Debian mirror root (holding pool/) to download from when apt-get is missing or lacks "
                        f"a pinned version; repeat to try several in order (default: ${MIRROR_ENV})")
    b.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    m = sub.add_parser("mirror", help="lay the cached .debs of a dataset out as a Debian mirror (DIR/pool/...)")
    m.add_argument("name", help="dataset name, e.g. frames1k")
    m.add_argument("dir", help="mirror root to fill; serve it with e.g. python -m http.server -d DIR")
    m.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    m.add_argument("--root", default=None)
    ls = sub.add_parser("list", help="list datasets that have a sources.yaml")
    ls.add_argument("--root", default=None)
    args = ap.parse_args(argv)

    if args.cmd == "list":
        seen = set()
        for base in _dataset_roots(args.root):
            for p in sorted(base.glob("*/sources.yaml")):
                if p.parent.name not in seen:
                    seen.add(p.parent.name)
                    print(f"{p.parent.name}\t{p}")
        return 0

    try:
        spec = load_spec(find_spec(args.name, args.root))
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "mirror":
        return _mirror(spec, Path(args.cache_dir), Path(args.dir))
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    report = build(spec, args.cache_dir, check=args.check, offline=args.offline, mirrors=args.mirror, log=log)
    print(report.summary())
    return 0 if report.ok else 1


def _mirror(spec, cache_dir: Path, root: Path) -> int:
    """Hard-link (or copy) each cached pinned .deb to ``root/<pool path>``; missing ones are named."""
    missing = 0
    for pkg in sorted(spec.packages):
        pin = spec.packages[pkg].pin
        cached = cache_dir / deb_filename(pin.package, pin.version)
        dest = root.joinpath(*pin.pool_path.split("/"))
        if not cached.is_file():
            print(f"missing: {cached} (build the dataset once where it can be fetched)", file=sys.stderr)
            missing += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            try:
                os.link(cached, dest)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(cached, dest)
        print(f"{pin.pool_path}")
    print(f"{len(spec.packages) - missing} of {len(spec.packages)} packages in {root}; "
          f"serve it and build with --mirror URL (or {MIRROR_ENV}=URL)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
