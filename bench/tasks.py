"""asyncio helpers shared by the runner and the judge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any


async def gather_all(coros: Iterable[Awaitable[Any]]) -> None:
    """Run tasks together; on cancellation (Ctrl-C) or an error, cancel the rest and wait for them,
    so that no task is left half-way through writing a record."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
