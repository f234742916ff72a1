"""One run end to end: config -> dataset -> prompt -> backend -> runner -> run store -> metrics.

`python -m bench` (bench/__main__.py) composes the config with Hydra and calls
`run`. Exit codes: 0 done (failed frames are recorded, not fatal), 1 the run
stopped on a systemic error (bad key, unknown model, its server died or went away), 2 unusable config or
dataset, 130 interrupted (re-run the same command to resume).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import signal
import threading
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from rich.console import Console
from rich.markup import escape

from bench.backends import PROTOCOLS, make_backend
from bench.backends.base import SESSION_HEADER, Reasoning, Sampling
from bench.backends.families import check_request_shape
from bench.backends.replicas import Replica, ReplicaBackend
from bench.config import Config
from bench.eventloop import EventLoopError, loop_factory, running_loop_name
from bench.eventloop import run as run_on_loop
from bench.frames import DatasetError, load_frames
from bench.frames.shards import shard_spec_problems
from bench.idset import IdSet
from bench.metrics import MetricsPass
from bench.prices import PriceLookupError, resolve_price
from bench.progress import RunProgress
from bench.replica_metrics import out_of_rotation
from bench.runner import EncodeSettings, FatalRunError, Prices, Runner, ServerWatch
from bench.score.temporal import check_settings as check_temporal
from bench.server_process import ServerStartError
from bench.serving import Endpoints, ServingError, check_serving, serving
from bench.store import RunInUseError, RunStore
from bench.store import redact as redact_text
from bench.summary import message_console, print_summary, summary_console

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ConfigError(Exception):
    pass


def check_config(cfg: Config | DictConfig) -> None:
    """Checks the types can't express; each message names the key and the fix."""
    if isinstance(cfg, DictConfig):
        missing = _missing_keys(cfg)
        if missing:
            raise ConfigError("invalid config:\n  " + "\n  ".join(
                f"{key} needs a value: add {key}=VALUE to the command" for key in missing))
        unknown = _unknown_keys(cfg, Config)
        if unknown:  # e.g. Hydra's hint "+model.sampling.temprature=0.2" followed to the letter
            raise ConfigError("invalid config:\n  " + "\n  ".join(
                f"{key} is not a setting capbench knows (a typo?); see `python -m bench --cfg job`" for key in unknown))
    problems = []
    if cfg.model.backend not in PROTOCOLS:
        problems.append(f"model.backend={cfg.model.backend!r}: choose one of {', '.join(PROTOCOLS)}")
    if cfg.model.serve not in ("", "sim", "vllm"):
        problems.append(f"model.serve={cfg.model.serve!r}: use '' (server already running), 'sim' or 'vllm'")
    if cfg.model.serve == "vllm" and not cfg.model.vllm.model:
        problems.append("model.vllm.model needs a value: the weights to serve, an HF id or a local path "
                        "(add model.vllm.model=PATH to the command)")
    if cfg.model.serve == "vllm" and cfg.model.backend != "openai_chat":
        problems.append("model.serve=vllm speaks the OpenAI protocol: set model.backend=openai_chat")
    if not cfg.model.serve and not cfg.model.base_url and cfg.model.backend == "openai_chat" \
            and not cfg.model.api_key_env:
        problems.append("model.base_url is empty: set model.base_url=http://HOST:PORT/v1")
    if cfg.model.sampling.response_format not in ("json_object", "json_schema", "none"):
        problems.append(f"model.sampling.response_format={cfg.model.sampling.response_format!r}: "
                        "use json_object, json_schema or none")
    if cfg.model.sampling.response_format == "json_schema" and not cfg.prompt.json_schema:
        problems.append(f"model.sampling.response_format=json_schema: prompt {cfg.prompt.name!r} has no json_schema "
                        "to constrain decoding with; use json_object or a prompt with a schema")
    if cfg.model.sampling.response_format == "json_schema" and cfg.prompt.json_schema \
            and cfg.model.backend == "openai_chat":
        from bench.backends.openai_chat import strict_schema_problems

        schema = OmegaConf.to_container(cfg.prompt.json_schema) if isinstance(cfg, DictConfig) \
            else cfg.prompt.json_schema
        problems += [f"prompt {cfg.prompt.name!r} json_schema is sent with strict: true, which OpenAI refuses "
                     f"unless {p}" for p in strict_schema_problems(schema)]
    if cfg.model.check_request:  # a request shape the model refuses fails here, not on every frame
        problems += check_request_shape(cfg.model.backend, cfg.model.name, cfg.model.sampling)
    if cfg.runner.mode not in ("closed", "open", "batch"):
        problems.append(f"runner.mode={cfg.runner.mode!r}: use closed, open or batch")
    from bench.batch import config_problems

    problems += config_problems(cfg)
    replicas = len(cfg.model.base_url) if isinstance(cfg.model.base_url, list | ListConfig) else 1
    if cfg.runner.mode == "batch" and (replicas > 1 or cfg.model.sim.replicas > 1 or cfg.model.vllm.replicas > 1):
        problems.append("runner=batch sends to one provider endpoint: give model.base_url one URL (no replicas)")
    if cfg.runner.mode == "open" and not (cfg.runner.rate and cfg.runner.rate > 0):
        problems.append("runner.mode=open needs runner.rate=<requests per second>")
    problems += shard_spec_problems(cfg.dataset.shard, cfg.dataset.num_shards)
    if not 16 <= cfg.dataset.max_side <= 8192:
        problems.append(f"dataset.max_side={cfg.dataset.max_side}: pixels of the long side, 16 to 8192")
    if not 1 <= cfg.dataset.jpeg_quality <= 100:
        problems.append(f"dataset.jpeg_quality={cfg.dataset.jpeg_quality}: 1 to 100")
    for key in ("input_per_million", "output_per_million"):
        value = cfg.model.price[key]
        if value is not None and not (math.isfinite(value) and value >= 0):
            problems.append(f"model.price.{key}={value}: a price in $ per 1M tokens, 0 or more")
    hourly = cfg.model.gpu.hourly_usd
    if hourly is not None and not (math.isfinite(hourly) and hourly >= 0):
        problems.append(f"model.gpu.hourly_usd={hourly}: $ per GPU-hour, 0 or more")
    if cfg.runner.concurrency < 1:
        problems.append("runner.concurrency must be at least 1")
    try:
        loop_factory(cfg.runner.event_loop)
    except EventLoopError as exc:
        problems.append(str(exc))
    if cfg.runner.retry.max_attempts < 1:
        problems.append("runner.retry.max_attempts must be at least 1")
    if cfg.resume not in ("auto", "never"):
        problems.append(f"resume={cfg.resume!r}: use auto or never")
    for name in ("malformed_rate", "truncation_rate", "rate_limit_rate", "server_error_rate", "hang_rate",
                 "disconnect_rate", "temporal_jitter"):
        value = getattr(cfg.model.sim, name)
        if not 0.0 <= value <= 1.0:
            problems.append(f"model.sim.{name}={value}: a rate in [0, 1]")
    try:  # the temporal scores' settings, checked before the run rather than when it is scored
        check_temporal(cfg.get("temporal") if isinstance(cfg, DictConfig) else getattr(cfg, "temporal", None))
    except ValueError as exc:
        problems.append(str(exc))
    from bench.window_runner import mode_problems

    if isinstance(cfg, DictConfig) and "mode" in cfg or hasattr(cfg, "mode"):
        problems += mode_problems(cfg)
    from bench.export import config_problems as export_problems

    problems += export_problems(cfg.get("export") if isinstance(cfg, DictConfig) else getattr(cfg, "export", None))
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def _unknown_keys(node: DictConfig, schema: type, prefix: str = "") -> list[str]:
    """Keys the structured config does not define (free-form dicts such as extra_body excepted)."""
    hints = typing.get_type_hints(schema)
    out = []
    for key in node.keys():
        if key not in hints:
            out.append(f"{prefix}{key}")
            continue
        kind = hints[key]
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        sub = kind if dataclasses.is_dataclass(kind) else (inner[0] if len(inner) == 1 else None)
        if (sub is not None and dataclasses.is_dataclass(sub) and not OmegaConf.is_interpolation(node, key)
                and isinstance(node[key], DictConfig)):
            out += _unknown_keys(node[key], sub, f"{prefix}{key}.")
    return out


def _missing_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys still `???`, without resolving interpolations (OmegaConf.missing_keys resolves them
    and fails on `${dataset.path}` when dataset.path is the missing one)."""
    out = []
    for key in node.keys():
        full = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            out.append(full)
        elif not OmegaConf.is_interpolation(node, key) and isinstance(node[key], DictConfig):
            out += _missing_keys(node[key], full + ".")
    return out


def api_key_for(cfg: Config | DictConfig) -> str:
    """The key from the environment variable the model config names; never stored anywhere."""
    if cfg.model.serve in ("sim", "vllm"):
        return "sim-key" if cfg.model.serve == "sim" else "EMPTY"
    env = cfg.model.api_key_env
    if not env:
        return "EMPTY"  # OpenAI-compatible servers such as vLLM accept any key
    key = os.environ.get(env, "").strip()
    if not key:
        raise ConfigError(f"model {cfg.model.label or cfg.model.name!r} needs an API key: set {env} "
                          f"(export {env}=...) or choose another model")
    return key


def select_shard(cfg: DictConfig, frames: list[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    """This job's shard of the frames (all of them when unsharded), and what bench.shards needs to check
    that a set of shard runs covers the dataset exactly once."""
    count = cfg.dataset.num_shards
    if count <= 1:
        return frames, None
    from bench.frames.shards import PARTITION, in_shard
    from bench.shards import group_fingerprint

    mine = [f for f in frames if in_shard(f.id, cfg.dataset.shard, count)]
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    return mine, {"index": cfg.dataset.shard, "count": count, "group": group_fingerprint(plain),
                  "partition": PARTITION, "dataset_frames": len(frames), "frames": len(mine)}


def _judge_key_present(judge: DictConfig) -> None:
    from bench.score import ScoreError
    from bench.score.panel import member_configs, panel_judges

    try:  # a panel: every member's key (bench.score.panel)
        judges = member_configs(judge) if panel_judges(judge) else [judge]
    except ScoreError as exc:
        raise ConfigError(f"{exc}; nothing was run") from exc
    from bench.score.judge import _typed, request_problems

    for j in judges:
        model = j.model
        try:  # a judge request its model refuses: said now, not after the run (bench.backends.families)
            problems = request_problems(_typed(j))
        except ScoreError as exc:
            raise ConfigError(f"{exc}; nothing was run") from exc
        if problems:
            raise ConfigError(f"judge {j.label!r}: the request would be refused: {'; '.join(problems)}; nothing was "
                              "run")
        if model.serve or not model.api_key_env or os.environ.get(model.api_key_env, "").strip():
            continue
        raise ConfigError(f"judge {j.label!r} needs an API key: set {model.api_key_env} "
                          f"(export {model.api_key_env}=...) or choose another judge; nothing was run")


def run(cfg: DictConfig, console: Console | None = None, *, summary: bool = True) -> int:
    console = console or message_console()
    try:
        check_config(cfg)
        api_key = api_key_for(cfg)
        frames = load_frames(cfg.dataset)
        frames, shard = select_shard(cfg, frames)
        if _windowed(cfg):  # mode=window|grid|sliding|summary: the units are windows, not frames
            from bench.window_runner import plan_work

            frames = plan_work(cfg, frames)
        check_serving(cfg.model)
        resolve_price(cfg.model.price)
        if cfg.get("judge") is not None:  # a judge without its key would fail only after the paid run
            _judge_key_present(cfg.judge)
    except (ConfigError, DatasetError, ServingError, PriceLookupError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE

    label = cfg.model.label or cfg.model.name
    try:
        store = RunStore.open(cfg, model_label=label, shard=shard)
    except (RunInUseError, OSError) as exc:
        console.print(f"[red]error:[/red] cannot use the run folder: {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    _point_sweep_job_at(store)
    for name, count in store.set_aside.items():  # never silently dropped: say where the lines went
        console.print(f"set aside {count} unusable or repeated record line(s) of generations.jsonl in "
                      f"{store.path / name}", highlight=False)
    if cfg.get("retry_failed"):
        # Transport failures are worth another try; a bad image will fail the same way again.
        failed = IdSet(r["frame_id"] for r in store.iter_records()
                       if r["status"] == "failed" and (r.get("error") or {}).get("kind") != "bad_input")
        moved = store.supersede(failed)
        console.print(f"retry_failed: sending {moved} failed frames again (old records kept in "
                      "superseded.jsonl)", highlight=False)
    # One pass over the frames (a manifest is read lazily): their ids, compactly, and what is left to do.
    # A manifest reader already holds its ids (bench.frames.manifest.ManifestFrames.ids).
    wanted = getattr(frames, "ids", None) or IdSet(f.id for f in frames)
    todo = len(wanted) - wanted.count_common(store.recorded)
    verb = "resuming" if store.resumed else "new run"
    noun = f"{cfg.mode.kind} units" if _windowed(cfg) else "frames"
    console.print(f"{verb}: {store.path}  ({len(frames)} {noun}, {todo} to do)"
                  + ("  [yellow]SIMULATED model[/yellow]" if cfg.model.simulated else ""), highlight=False)
    session = store.start_session({"frames_to_do": todo})
    status, code = "complete", EXIT_OK
    client: dict[str, Any] = {}  # the client's own distortion this session (bench.loopmon), filled by the runner
    main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous_term = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        with serving(cfg.model, store.path) as endpoint:
            current = (r for r in store.iter_records() if r["frame_id"] in wanted) if todo < len(frames) else ()
            with RunProgress(len(frames), current, enabled=cfg.runner.progress,
                             console=console) as progress:
                if cfg.runner.mode == "batch":  # the provider's Batch API (bench/batch/)
                    from bench.batch.app import run_batch

                    asyncio.run(run_batch(cfg, frames, store, session, endpoint, api_key, progress.update,
                                          lambda msg: console.print(escape(msg), highlight=False)))
                else:
                    run_on_loop(_run_frames(cfg, frames, store, session, endpoint, api_key, progress.update,
                                            console, client), cfg.runner.event_loop)
    except (FatalRunError, ServerStartError) as exc:
        status, code = "failed", EXIT_FATAL
        console.print(f"[red]stopped early:[/red] {escape(str(exc))}\nNothing more was sent. Fix it and re-run "
                      f"the same command to continue {store.path}.", highlight=False)
    except KeyboardInterrupt:
        status, code = "interrupted", EXIT_INTERRUPTED
        console.print(f"interrupted: {len(store)}/{len(frames)} frames recorded in {store.path}; "
                      "re-run the same command to resume.", highlight=False)
    except Exception as exc:  # e.g. the simulator or a server failed to start
        status, code = "failed", EXIT_FATAL
        console.print(f"[red]run failed:[/red] {type(exc).__name__}: {escape(str(exc))}", highlight=False)
        if os.environ.get("CAPBENCH_DEBUG"):
            raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous_term)
    metrics = metrics_for(cfg, store, frames, wanted=wanted)
    if shard:
        metrics["shard"] = shard
    if client:
        metrics["client"] = {"session": session, **client}
    if status == "complete" and metrics["pending"]:
        status = "incomplete"
    store.write_metrics(metrics)
    store.meta["simulated"] = metrics["simulated"]
    store.end_session(status, recorded=len(store), client_limited=client.get("client_limited"),
                      client_lag_p99_ms=(client.get("lag_ms") or {}).get("p99"))
    store.close()  # the run is over: scoring below takes its own lock (bench.scorings)
    if code == EXIT_OK and _windowed(cfg):
        console.print(f"mode={cfg.mode.kind}: ROUGE/BLEU, judge and temporal scores are defined on frame captions; "
                      "this run's window captions are measured by validity, latency and cost.", highlight=False)
    elif code == EXIT_OK:
        try:
            metrics = _score(cfg, store, metrics, console)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
            console.print(f"scoring interrupted; the run is saved. Re-score it with `{_rescore_hint(cfg, store)}` "
                          "(judge verdicts already received are cached).", highlight=False)
    if summary:
        print_summary(summary_console(), metrics, label=label, run_dir=store.path, status=status)
    if (cfg.get("export") or {}).get("to", "none") != "none" and status in ("complete", "incomplete"):
        _export(cfg, store.path, console)
    return code


def _windowed(cfg: DictConfig) -> bool:
    mode = cfg.get("mode")
    return mode is not None and mode.kind != "frame"


def _export(cfg: DictConfig, run_dir: Path, console: Console) -> None:
    """conf/export/: a failed export leaves the run as it is (saved, its exit code) and says how to retry."""
    from bench.export import ExportError, export_run

    try:
        console.print(f"exported: {export_run(run_dir, cfg.export, runs_dir=cfg.runs_dir)}", highlight=False)
    except Exception as exc:  # noqa: BLE001 - the run is done and saved: an export problem must not undo that
        why = str(exc) if isinstance(exc, ExportError) else f"{type(exc).__name__}: {exc}"
        console.print(f"[red]export failed:[/red] {escape(why)}\nThe run is saved; export it again with "
                      f"`python -m bench.export {run_dir} export={cfg.export.to}`.", highlight=False)


def _score(cfg: DictConfig, store: RunStore, metrics: dict[str, Any], console: Console) -> dict[str, Any]:
    """ROUGE/BLEU against the references (and the judge, when asked) right after the run (bench.score)."""
    from bench.score import ScoreError, score_after_run

    try:
        scores = score_after_run(cfg, store.path)
    except ScoreError as exc:
        console.print(f"[red]scoring failed:[/red] {escape(str(exc))}\nThe run is saved; re-score it with "
                      f"`{_rescore_hint(cfg, store)}`.", highlight=False)
        return metrics
    if scores is not None:
        metrics = {**metrics, "scores": scores}
    return metrics


def _rescore_hint(cfg: DictConfig, store: RunStore) -> str:
    from hydra.core.hydra_config import HydraConfig

    judge = HydraConfig.get().runtime.choices.get("judge") if HydraConfig.initialized() else None
    return f"python -m bench.score {store.path}" + (f" judge={judge}" if judge and judge != "null" else "")


def _point_sweep_job_at(store: RunStore) -> None:
    """In a Hydra sweep (-m), leave the run folder's path in the job's folder, so that
    `python -m bench.report runs/multirun/<time>` finds exactly the sweep's runs; and the job's overrides
    in the run's run.json, so that the run is labelled by what the sweep varied (bench.sweep, bench.load)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        (job_dir / "capbench_run.json").write_text(json.dumps({"run_dir": str(store.path.resolve())}) + "\n")
        store.meta["sweep"] = {"dir": str(job_dir.parent.resolve()), "job": HydraConfig.get().job.num,
                               "overrides": [redact_text(o) for o in HydraConfig.get().overrides.task]}
        store.save_meta()


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a CI timeout, `kill`) stops like Ctrl-C: servers stopped, run resumable."""
    raise KeyboardInterrupt


async def _run_frames(cfg: DictConfig, frames: Iterable[Any], store: RunStore, session: int, endpoints: Endpoints,
                      api_key: str, on_record: Any, console: Console, client: dict[str, Any]) -> None:
    # The simulator draws faults per session: a resumed run is a fresh draw, not a replay.
    headers = {SESSION_HEADER: str(session)} if cfg.model.serve == "sim" else {}

    def backend_for(url: str | None) -> Any:
        return make_backend(cfg.model, base_url=url, api_key=api_key, headers=headers,
                            timeout_s=cfg.runner.request_timeout_s + 5.0)

    if len(endpoints.replicas) == 1:
        endpoint = endpoints.replicas[0]
        backend, watch = backend_for(endpoint.base_url), ServerWatch(endpoint.base_url, endpoint.gone)
    else:
        backend, watch = replica_backend(endpoints, backend_for, store, console)
    s = cfg.model.sampling
    runner_class: Any = Runner
    extra: dict[str, Any] = {}
    if _windowed(cfg):
        from bench.window_runner import WindowRunner

        runner_class, extra = WindowRunner, {"mode": OmegaConf.to_object(cfg.mode)}
    runner = runner_class(
        **extra,
        backend=backend,
        prompt=OmegaConf.to_object(cfg.prompt),
        sampling=Sampling(temperature=s.temperature, max_tokens=s.max_tokens, top_p=s.top_p, seed=s.seed,
                          response_format=s.response_format, image_detail=s.image_detail),
        runner_cfg=OmegaConf.to_object(cfg.runner),
        encode=EncodeSettings(cfg.dataset.max_side, cfg.dataset.jpeg_quality, cfg.dataset.max_pixels),
        prices=Prices(cfg.model.price.input_per_million, cfg.model.price.output_per_million),
        store=store,
        session=session,
        on_record=on_record,
        server=watch,
        reasoning=Reasoning(effort=s.reasoning_effort, budget=s.thinking_budget, level=s.thinking_level),
    )
    try:
        await (runner.run_units(frames) if _windowed(cfg) else runner.run(frames))
    finally:
        if isinstance(backend, ReplicaBackend):
            store.meta.setdefault("replicas", {})[str(session)] = backend.report()
            store.save_meta()
        client.update(runner.client_stats(), event_loop=running_loop_name())
        await backend.aclose()


def replica_backend(endpoints: Endpoints, backend_for: Any, store: RunStore,
                    console: Console) -> tuple[ReplicaBackend, ServerWatch]:
    """One backend per replica behind a least-loaded router; the run stops only when every replica is out."""
    def said_out(replica: Replica) -> None:
        console.print(f"[yellow]replica out of rotation:[/yellow] {escape(replica.url)}: {escape(replica.out or '')}",
                      highlight=False)

    replicas = [Replica(url=redact_text(e.base_url or "(default URL)"), backend=backend_for(e.base_url), gone=e.gone)
                for e in endpoints.replicas]
    backend = ReplicaBackend(replicas, on_out=said_out)
    return backend, ServerWatch(", ".join(r.url for r in replicas), backend.all_gone)


def metrics_for(cfg: DictConfig, store: RunStore, frames: Iterable[Any], *, wanted: IdSet | None = None
                ) -> dict[str, Any]:
    """metrics.json for the run: one streaming pass over generations.jsonl (bench.metrics.MetricsPass),
    so memory stays flat whatever the number of frames. `wanted`: the frames' ids, if already collected."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    runner = OmegaConf.to_container(cfg.runner, resolve=True)
    assert isinstance(model, dict) and isinstance(runner, dict)
    if wanted is None:  # a manifest kept the ids of its last pass (bench.frames.manifest): no second pass, no copy
        ids = getattr(frames, "ids", None)
        wanted = ids if isinstance(ids, IdSet) else IdSet(f.id for f in frames)
    # Only the frames the dataset lists now: a record left from a manifest line since fixed or
    # removed is an orphan, reported but not counted.
    acc = MetricsPass(model=model, runner=runner)
    orphans = 0
    for r in store.iter_records():
        if r["frame_id"] in wanted:
            acc.add(r)
        else:
            orphans += 1
    # Simulated if the config says so or any answer came from capbench's simulator
    # (a real model's config pointed at it with model.base_url).
    simulated = bool(cfg.model.simulated) or acc.simulated_answers
    metrics = acc.result(frames_total=len(wanted), simulated=simulated)
    metrics["orphan_records"] = orphans
    if store.meta.get("replicas"):  # which replicas were taken out of rotation, and why
        metrics["replicas_out_of_rotation"] = out_of_rotation(store.meta)
    if cfg.runner.mode == "batch":
        from bench.batch.app import batch_metrics

        metrics = batch_metrics(cfg, store, frames, metrics)
    metrics["run"] = {"dir": str(store.path), "model": cfg.model.label or cfg.model.name, "model_name": cfg.model.name,
                      "dataset": cfg.dataset.name, "prompt": f"{cfg.prompt.name}@{cfg.prompt.version}",
                      "mode": (cfg.get("mode") or {}).get("kind", "frame"),
                      "precision": cfg.model.precision, "hosting": cfg.model.hosting,
                      "sessions": len(store.meta.get("sessions", []))}
    return metrics
