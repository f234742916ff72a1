"""Fixtures for the simulator tests: sample frames, the caption schema and an
in-thread simulator factory (real TCP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.config import SimConfig
from bench.sim.server import SimServer
from bench.sim.testing import FAST, sample_frames

# The ClipTagger schema (seed 000): all keys required, at most 10 objects and 5 actions.
CAPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "description",
        "objects",
        "actions",
        "environment",
        "content_type",
        "specific_style",
        "production_quality",
        "summary",
        "logos",
    ],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "objects": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "actions": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "environment": {"type": "string"},
        "content_type": {"type": "string"},
        "specific_style": {"type": "string"},
        "production_quality": {"type": "string"},
        "summary": {"type": "string", "minLength": 1},
        "logos": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


@pytest.fixture(scope="session")
def caption_schema() -> dict[str, Any]:
    return CAPTION_SCHEMA


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
