"""Which asyncio event loop a run uses: uvloop when installed (the default), else the standard one.

Why: at concurrency 8 every streamed token is its own network read, so the loop's own work per
wake-up (select, transport, callbacks) is most of the client's CPU per request; uvloop (libuv, in C)
does it in about two thirds of the time (measured in benchmarks/README.md, issue 12). It is a
dependency, but optional at run time: `runner.event_loop=asyncio` forces the standard loop, and
`auto` falls back to it when uvloop cannot be imported (e.g. on Windows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


class EventLoopError(ValueError):
    pass


def loop_factory(kind: str = "auto") -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """(name, factory) for `runner.event_loop`; raises EventLoopError for an unknown or missing loop."""
    if kind not in CHOICES:
        raise EventLoopError(f"runner.event_loop={kind!r} is not one of {', '.join(CHOICES)}")
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError as exc:
            if kind == "uvloop":
                raise EventLoopError("runner.event_loop=uvloop but uvloop is not installed: pip install uvloop, "
                                     "or use runner.event_loop=asyncio") from exc
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def run(coro: Coroutine[Any, Any, T], kind: str = "auto") -> T:
    """asyncio.run(coro) on the loop `kind` names (asyncio.Runner: same shutdown of tasks and generators)."""
    _, factory = loop_factory(kind)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def running_loop_name() -> str:
    """'uvloop' or 'asyncio': the loop the caller runs on (for metrics.json `client`)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
