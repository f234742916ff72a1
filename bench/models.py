"""The model catalog: every config under conf/model/, with its backend, hosting, prices and key.

    python -m bench.models          # a table
    python -m bench.models --json   # the same as JSON lines

Prices are resolved as a run resolves them (bench/prices.py: a config's stated price, else
genai-prices' bundled data), so the listing shows what a run would be charged. Whether a key is set
is read from the environment; the key itself is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from bench.backends.families import family_of
from bench.prices import PriceLookupError, resolve_price


@dataclass
class CatalogEntry:
    config: str  # model=<config>
    name: str  # the model id sent to the server
    backend: str
    hosting: str
    price_in: float | None  # $ per 1M tokens
    price_out: float | None
    price_source: str
    price_date: str
    gpu_hourly_usd: float | None
    key_env: str | None
    key_set: bool | None  # None: no key needed
    family: str  # what the request-shape check knows of it (bench/backends/families.py)
    simulated: bool
    price_error: str | None = None


def conf_dir() -> Path:
    from bench.__main__ import conf_dir as find

    return Path(find())


def config_names() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml"))


def _entry(config: str, model: DictConfig) -> CatalogEntry:
    name = "(set model.name)" if OmegaConf.is_missing(model, "name") else str(model.name)
    error = None
    try:
        resolve_price(model.price)
    except PriceLookupError as exc:
        error = str(exc)
    env = model.api_key_env if not model.serve else None
    family = family_of(model.backend, name)
    return CatalogEntry(
        config=config, name=name,
        backend=model.backend, hosting=model.hosting,
        price_in=model.price.input_per_million, price_out=model.price.output_per_million,
        price_source=model.price.source, price_date=model.price.date, gpu_hourly_usd=model.gpu.hourly_usd,
        key_env=env, key_set=bool(os.environ.get(env, "").strip()) if env else None,
        family=(f"{family.name}: {family.describe()}" if family else ""), simulated=bool(model.simulated),
        price_error=error)


def catalog() -> list[CatalogEntry]:
    """One entry per conf/model/*.yaml, composed as a run composes it (defaults lists included)."""
    from bench.config import register

    register()
    entries = []
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        for name in config_names():
            cfg = compose(config_name="config", overrides=[f"model={name}"])
            entries.append(_entry(name, cfg.model))
    return entries


def _price(e: CatalogEntry) -> str:
    if e.hosting == "self-hosted":
        return f"GPU ${e.gpu_hourly_usd:g}/h" if e.gpu_hourly_usd is not None else "set model.gpu.hourly_usd"
    if e.price_in is None or e.price_out is None:
        return "no price" + (" (!)" if e.price_error else "")
    return f"{e.price_in:g} / {e.price_out:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    args = parser.parse_args(argv)
    entries = catalog()
    if args.json:
        for e in entries:
            print(json.dumps(asdict(e)))
        return 0
    table = Table(title="capbench models (model=<config>); $ per 1M tokens in / out", title_justify="left")
    for col in ("config", "model", "backend", "hosting", "$ in / out", "price source", "key", "request rules"):
        table.add_column(col, overflow="fold")
    for e in entries:
        key = "-" if e.key_env is None else f"{e.key_env} {'set' if e.key_set else 'NOT SET'}"
        source = "; ".join(x for x in (e.price_source, e.price_date) if x)
        table.add_row(e.config + (" (SIMULATED)" if e.simulated else ""), e.name, e.backend, e.hosting,
                      _price(e), source, key, e.family)
    Console(width=max(160, Console().width)).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
