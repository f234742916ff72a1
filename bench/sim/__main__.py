"""CLI: python -m bench.sim --port N [--host 127.0.0.1] [--config FILE] [--set key=value ...] [--exit-with-parent]
[--delete-config]

Prints one JSON line {"event": "ready", "host": ..., "port": ...} to stdout
once listening (port 0 picks a free port) and runs until SIGTERM/SIGINT.
Keys are SimConfig fields; the config file is YAML or JSON, either the
SimConfig mapping itself or a model config with a `sim:` section.
--delete-config removes the config file once read (the harness's temporary
file must not outlive a harness killed with SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config import SimConfig
from bench.sim.faults import validate
from bench.sim.server import SimServer


def load_config(path: str | None, overrides: Sequence[str]) -> SimConfig:
    """Merge file and key=value overrides onto SimConfig; unknown keys and bad types fail by name."""
    merged = OmegaConf.structured(SimConfig)
    if path:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}  # YAML is a superset of JSON
        names = {f.name for f in fields(SimConfig)}
        if isinstance(data, dict) and "sim" in data and not names & data.keys():
            data = data["sim"] or {}
        merged = OmegaConf.merge(merged, data)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
    merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
    cfg = OmegaConf.to_object(merged)
    assert isinstance(cfg, SimConfig)
    validate(cfg)
    if cfg.references and not Path(cfg.references).exists():
        raise ValueError(f"references: {cfg.references} does not exist")
    return cfg


async def _watch_parent(stop: asyncio.Event, interval_s: float = 0.5) -> None:
    """Stop when the launching process dies (we get re-parented), e.g. a harness killed by SIGKILL."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            print("sim: parent process exited; stopping", file=sys.stderr, flush=True)
            stop.set()
        await asyncio.sleep(interval_s)


async def serve(cfg: SimConfig, host: str, port: int, exit_with_parent: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = SimServer(cfg, host=host, port=port)
    await server.start()
    watcher = asyncio.create_task(_watch_parent(stop)) if exit_with_parent else None
    print(json.dumps({"event": "ready", "host": host, "port": server.port}), flush=True)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        print("sim: shutting down", file=sys.stderr, flush=True)
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port, reported on stdout)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--config", help="YAML or JSON file with SimConfig fields")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the launching process dies")
    parser.add_argument("--delete-config", action="store_true", help="delete the --config file once it is read")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as exc:
        print(f"sim: bad configuration: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.delete_config and args.config:
            Path(args.config).unlink(missing_ok=True)
    try:
        asyncio.run(serve(cfg, args.host, args.port, args.exit_with_parent))
    except ValueError as exc:  # e.g. fault rates summing over 1
        print(f"sim: bad configuration: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # port in use and the like
        print(f"sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
