"""CLI: build or verify a frame dataset from its pinned spec.

    python -m bench.datasets build sample            # fetch, cut, write (idempotent)
    python -m bench.datasets build sample --check    # verify; never downloads or writes
    python -m bench.datasets list                    # datasets that have a sources.yaml

Any dataset with ``datasets/<name>/sources.yaml`` can be built the same way
(``build sample``, ``build frames1k``).  Exit status: 0 when every
source built (or verified), 1 when any failed (each failure is named), 2 for a
bad command line or spec.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import DEFAULT_CACHE, SpecError, build, find_spec, load_spec


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
    b.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
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
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    report = build(spec, args.cache_dir, check=args.check, offline=args.offline, log=log)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
