"""`python -m bench.export RUN_DIR... export=mlflow|wandb [export.KEY=VALUE ...] [--report FILE]`

Sends saved run folders (a run folder, a glob, a folder of runs or a multirun folder) to MLflow or W&B, as
`python -m bench ... export=NAME` does right after a run. Keys are those of conf/export/NAME.yaml, e.g.
export.tracking_uri=sqlite:///runs/mlflow.db, export.experiment=NAME, export.mode=online; runs_dir=DIR
places the default local stores (default: runs). Flags: --to mlflow|wandb (same as export=NAME),
--report FILE (a report built with bench.report, attached to each run). Exit codes: 0 exported, 1 an
export failed (named), 2 unusable arguments or run folders.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from bench.export import ExportError, export_run

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def compose_export(name: str, overrides: list[str]) -> DictConfig:
    """The whole config with export=NAME and the export.* overrides, composed like `python -m bench`."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.__main__ import conf_dir  # also registers the structured config schema

    with initialize_config_dir(version_base="1.3", config_dir=conf_dir(), job_name="bench.export"):
        try:
            return compose(config_name="config", overrides=[f"export={name}", *overrides])
        except (HydraException, OmegaConfBaseException) as exc:
            raise UsageError(f"export={name}: {exc}") from exc


def parse_args(argv: list[str]) -> tuple[list[str], DictConfig, str | None]:
    runs, overrides, name, report = [], [], None, None
    args = iter(argv)
    for arg in args:
        if arg in ("--to", "--report"):
            value = next(args, None)
            if value is None:
                raise UsageError(f"{arg} needs a value")
            name, report = (value, report) if arg == "--to" else (name, value)
            continue
        key, eq, value = arg.partition("=")
        if not eq:
            runs.append(arg)
        elif key == "export":
            name = value
        elif key.startswith("export.") or key == "runs_dir":
            overrides.append(arg)
        else:
            raise UsageError(f"unknown key {key!r}: use export=NAME, export.KEY=VALUE, runs_dir=DIR, --report FILE")
    if name in (None, "none"):
        raise UsageError("say where to: export=mlflow or export=wandb (conf/export/)")
    return runs, compose_export(name, overrides), report


def main(argv: list[str] | None = None) -> int:
    from bench.load import RunLoadError, find_run_dirs

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return EXIT_OK if argv else EXIT_USAGE
    try:
        runs, cfg, report = parse_args(argv)
        run_dirs = find_run_dirs(runs)
    except (UsageError, RunLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not run_dirs:
        print("error: name a run folder: python -m bench.export RUN_DIR export=mlflow", file=sys.stderr)
        return EXIT_USAGE
    code = EXIT_OK
    for run_dir in run_dirs:
        try:
            print(f"{run_dir}: exported to {export_run(run_dir, cfg.export, runs_dir=cfg.runs_dir, report=report)}")
        except ExportError as exc:
            print(f"error: {run_dir}: {exc}", file=sys.stderr)
            code = EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
