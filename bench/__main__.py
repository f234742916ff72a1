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
_SWEEP_CODES: list[int] = []  # exit code of each job of a -m sweep, in job order


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.app import run

    code = run(cfg)
    # In a multirun sweep one model's failure must not stop the others; a single run exits with its code.
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        _SWEEP_CODES.append(code)
    elif code:
        sys.exit(code)


def cli() -> None:
    main()
    failed = [(job, code) for job, code in enumerate(_SWEEP_CODES) if code]
    if failed:  # the sweep went on past them; say so, and exit with the worst code
        print(f"sweep: {len(failed)} of {len(_SWEEP_CODES)} jobs failed: "
              + ", ".join(f"job {job} (exit {code})" for job, code in failed), file=sys.stderr)
        sys.exit(max(code for _, code in failed))


if __name__ == "__main__":
    cli()
