"""Fixtures for the simulator tests: sample frames, the caption schema and an
in-thread simulator factory (real TCP on 127.0.0.1)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from bench.config import SimConfig
from bench.sim.server import SimServer
from bench.sim.testing import FAST, sample_frames


@pytest.fixture(scope="session")
def caption_schema() -> dict[str, Any]:
    """The prompt's own JSON Schema (conf/prompt/cliptagger.yaml), its counting rules folded in."""
    prompt = OmegaConf.to_container(OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/prompt/cliptagger.yaml"))
    schema = copy.deepcopy(prompt["json_schema"])
    for name, limit in prompt["rules"]["max_items"].items():
        schema["properties"][name]["maxItems"] = limit
    for name in prompt["rules"]["non_empty"]:
        schema["properties"][name]["minLength"] = 1
    return schema


@pytest.fixture(scope="session")
def frames() -> dict[str, bytes]:
    return sample_frames()


@pytest.fixture
def sim() -> Iterator[Callable[..., SimServer]]:
    """Factory: sim(**SimConfig fields) -> a started in-thread server (latency off unless given)."""
    started: list[SimServer] = []

    def make(**kw: Any) -> SimServer:
        server = SimServer(SimConfig(**{**FAST, **kw})).in_thread()
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop_thread()
