"""`python -m bench [key=value ...]`: compose the config with Hydra and run it (bench.app)."""

from __future__ import annotations

import json
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
_SWEEP_JOBS: list = []  # bench.sweep.SweepJob of each job of a -m sweep, in job order
_SWEEP_DIR: list[Path] = []


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.app import run

    hydra_cfg = HydraConfig.get()
    sweep = hydra_cfg.mode == RunMode.MULTIRUN
    job_dir = Path(hydra_cfg.runtime.output_dir)
    if sweep and not _SWEEP_DIR:  # said first, so the sweep's folder can be found while it runs
        _SWEEP_DIR.append(job_dir.parent)
        print(f"sweep: {job_dir.parent}", file=sys.stderr)
    if cfg.get("experiment") is not None and cfg.experiment.card:  # conf/experiment/: the model card (bench.card)
        from bench.card import run_card

        code = run_card(cfg)
    else:
        code = run(cfg)
    # In a multirun sweep one model's failure must not stop the others; a single run exits with its code.
    if sweep:
        from bench.sweep import SweepJob

        pointer = job_dir / "capbench_run.json"  # bench.app wrote it once the run had a folder
        run_dir = Path(json.loads(pointer.read_text())["run_dir"]) if pointer.is_file() else None
        _SWEEP_JOBS.append(SweepJob(int(hydra_cfg.job.num), list(hydra_cfg.overrides.task), code, run_dir))
    elif code:
        sys.exit(code)


def cli() -> None:
    main()
    if not _SWEEP_JOBS:
        return
    from bench.summary import summary_console
    from bench.sweep import failed_jobs_line, print_sweep_table

    print_sweep_table(summary_console(), _SWEEP_JOBS, _SWEEP_DIR[0])  # one table of all the sweep's runs
    codes = [job.code for job in _SWEEP_JOBS]
    if any(codes):  # the sweep went on past them; name them by their overrides, exit with the worst code
        print(failed_jobs_line(_SWEEP_JOBS), file=sys.stderr)
        sys.exit(max(codes))


if __name__ == "__main__":
    cli()
