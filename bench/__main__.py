"""`python -m bench [key=value ...]`: compose the config with Hydra and run it (bench.app)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from bench.config import register


def conf_dir() -> str:
    """conf/ beside the package in a checkout (editable install), or the copy packed into a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "conf", here / "_conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise SystemExit("capbench: cannot find its conf/ folder; install with `pip install -e .` from a checkout")


register()


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.app import run

    code = run(cfg)
    # In a multirun sweep one model's failure must not stop the others; a single run exits with its code.
    if HydraConfig.get().mode != RunMode.MULTIRUN and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
