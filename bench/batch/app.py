"""Wiring of one batch run (called by bench.app when runner.mode == batch)."""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.backends.base import SESSION_HEADER, Reasoning, Sampling
from bench.batch import make_provider
from bench.batch.metrics import amend
from bench.batch.prices import BatchPrice, batch_price
from bench.batch.runner import BatchRunner
from bench.runner import EncodeSettings


def price_for(cfg: DictConfig, provider_source: str) -> BatchPrice:
    b = cfg.runner.batch
    return batch_price(cfg.model.price, b.discount, b.discount_source or provider_source)


async def run_batch(cfg: DictConfig, frames: list[Any], store: Any, session: int, endpoints: Any, api_key: str,
                    on_record: Any, log: Any) -> None:
    # A Batch API is one provider endpoint: replicas are refused by bench.app.check_config.
    endpoint = endpoints.replicas[0] if hasattr(endpoints, "replicas") else endpoints
    headers = {SESSION_HEADER: str(session)} if cfg.model.serve == "sim" else {}
    base_url = endpoint.base_url
    provider = make_provider(cfg.model, base_url=base_url, api_key=api_key, headers=headers)
    s = cfg.model.sampling
    sampling = Sampling(temperature=s.temperature, max_tokens=s.max_tokens, top_p=s.top_p, seed=s.seed,
                        response_format=s.response_format, image_detail=s.image_detail)
    reasoning = Reasoning(effort=s.reasoning_effort, budget=s.thinking_budget, level=s.thinking_level)
    encode = EncodeSettings(cfg.dataset.max_side, cfg.dataset.jpeg_quality, cfg.dataset.max_pixels)
    prompt = OmegaConf.to_object(cfg.prompt)
    try:
        if cfg.get("retry_failed") and cfg.runner.batch.retry_on_demand:
            await _on_demand(cfg, frames, store, session, endpoint, api_key, on_record, prompt, sampling, reasoning,
                             encode)
        runner = BatchRunner(provider=provider, prompt=prompt, sampling=sampling, reasoning=reasoning, encode=encode,
                             price=price_for(cfg, provider.discount_source), store=store, session=session,
                             settings=OmegaConf.to_object(cfg.runner.batch), on_record=on_record,
                             simulated=bool(cfg.model.simulated), log=log)
        await runner.run(frames)
    finally:
        await provider.aclose()


async def _on_demand(cfg: DictConfig, frames: list[Any], store: Any, session: int, endpoint: Any, api_key: str,
                     on_record: Any, prompt: Any, sampling: Sampling, reasoning: Reasoning,
                     encode: EncodeSettings) -> None:
    """retry_failed with runner.batch.retry_on_demand: the frames to retry go through the on-demand runner
    (list price, per-request latency recorded), the rest of the run stays a batch run."""
    from bench.backends import make_backend
    from bench.batch.journal import Journal
    from bench.runner import Prices, Runner, ServerWatch

    busy = Journal(store.path).frames_in_open_batches()
    todo = [f for f in frames if not store.has(f.id) and f.id not in busy]
    if not todo:
        return
    runner_cfg = dataclasses.replace(OmegaConf.to_object(cfg.runner), mode="closed")
    backend = make_backend(cfg.model, base_url=endpoint.base_url, api_key=api_key,
                           timeout_s=cfg.runner.request_timeout_s + 5.0)
    try:
        await Runner(backend=backend, prompt=prompt, sampling=sampling, runner_cfg=runner_cfg, encode=encode,
                     prices=Prices(cfg.model.price.input_per_million, cfg.model.price.output_per_million),
                     store=store, session=session, on_record=on_record,
                     server=ServerWatch(endpoint.base_url, endpoint.gone), reasoning=reasoning).run(todo)
    finally:
        await backend.aclose()


def batch_metrics(cfg: DictConfig, store: Any, frames: list[Any], metrics: dict[str, Any]) -> dict[str, Any]:
    wanted = {f.id for f in frames}
    records = [r for r in store.iter_records() if r["frame_id"] in wanted]
    model = OmegaConf.to_container(cfg.model, resolve=True)
    runner = OmegaConf.to_container(cfg.runner, resolve=True)
    return amend(metrics, store.path, records, model=model, runner=runner)


__all__ = ["run_batch", "batch_metrics"]
