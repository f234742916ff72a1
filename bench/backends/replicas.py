"""Several replicas of one model behind one Backend: each request goes to the least-loaded live replica.

`model.base_url` may be a list (data-parallel vLLM servers, several hosted endpoints), or capbench
starts several servers itself (`model.vllm.replicas`, `model.sim.replicas`). `ReplicaBackend` holds
one backend per URL and routes every `generate()` (one attempt) to the replica with the fewest
requests in flight (ties: the one sent the fewest so far, then list order), so a slow replica gets
less work without any tuning. Retries stay in the runner (bench.retry): a failed attempt is raised
with the replica's URL on it (`BackendError.endpoint`), and its retry is routed afresh, usually to
another replica.

A replica is taken out of rotation, and named, when
- the server capbench started for it has exited (checked before every pick: a waitpid), or
- `DEAD_AFTER` attempts in a row on it failed to connect with no answer in between.
A dead replica fails fast, so least-loaded routing would otherwise pour requests into it; it stays
out for the rest of the session (re-running the same command resumes with every replica again).
The run stops only when every replica is out (`all_gone()`, wired into the runner's ServerWatch).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Backend, BackendError, CaptionRequest, CaptionResponse, StreamClock

# Attempts in a row on one replica that failed to connect: the replica is gone. Three, like the
# runner's UNREACHABLE_AFTER: one refused connection is a fault, three in a row an outage.
DEAD_AFTER = 3


@dataclass
class Replica:
    url: str  # shown in records, metrics and messages (redacted by the caller)
    backend: Backend
    gone: Callable[[], str | None] = lambda: None  # why capbench's server for it exited, or None
    in_flight: int = 0
    sent: int = 0
    connect_failures: int = 0  # in a row, no answer in between
    out: str | None = None  # why it was taken out of rotation
    out_at: float | None = None
    errors: dict[str, int] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return {"endpoint": self.url, "sent": self.sent, "errors": dict(self.errors),
                "out_of_rotation": self.out is not None, "reason": self.out, "out_at": self.out_at}


class ReplicaBackend:
    """A Backend over several replicas of one model (see the module docstring)."""

    def __init__(self, replicas: Sequence[Replica], *, dead_after: int = DEAD_AFTER,
                 on_out: Callable[[Replica], None] | None = None) -> None:
        if not replicas:
            raise ValueError("ReplicaBackend needs at least one replica")
        urls = [r.url for r in replicas]
        if len(set(urls)) != len(urls):
            dup = sorted({u for u in urls if urls.count(u) > 1})
            raise ValueError(f"model.base_url lists {', '.join(dup)} more than once: list each replica once")
        self.replicas = list(replicas)
        self.dead_after = dead_after
        self.on_out = on_out or (lambda replica: None)
        self.name = "replicas(" + ",".join(r.backend.name for r in self.replicas[:1]) + ")"
        self._order = itertools.count()

    def _take_out(self, replica: Replica, reason: str) -> None:
        if replica.out is None:
            replica.out = reason
            replica.out_at = StreamClock.now()
            self.on_out(replica)

    def _check_processes(self) -> None:
        for replica in self.replicas:
            if replica.out is None:
                why = replica.gone()
                if why:
                    self._take_out(replica, why)

    def pick(self) -> Replica | None:
        """The live replica with the fewest requests in flight (then the fewest sent, then list order)."""
        self._check_processes()
        live = [r for r in self.replicas if r.out is None]
        if not live:
            return None
        return min(live, key=lambda r: (r.in_flight, r.sent))

    def all_gone(self) -> str | None:
        """Why the run cannot go on (every replica out of rotation), or None while one is live."""
        self._check_processes()
        if any(r.out is None for r in self.replicas):
            return None
        return "every replica is out of rotation:\n" + "\n".join(f"  {r.url}: {r.out}" for r in self.replicas)

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        replica = self.pick()
        if replica is None:
            raise BackendError("connection", self.all_gone() or "no replica left")
        replica.in_flight += 1
        replica.sent += 1
        try:
            response = await replica.backend.generate(request)
        except BackendError as exc:
            exc.endpoint = replica.url
            replica.errors[exc.kind] = replica.errors.get(exc.kind, 0) + 1
            if exc.kind == "connection":
                replica.connect_failures += 1
                why = replica.gone()
                if why:
                    self._take_out(replica, why)
                elif replica.connect_failures >= self.dead_after:
                    self._take_out(replica, f"{replica.connect_failures} attempts in a row failed to connect "
                                            f"({exc.message})")
            elif exc.kind != "timeout":  # the server answered (with an error): it is up
                replica.connect_failures = 0
            raise
        finally:
            replica.in_flight -= 1
        replica.connect_failures = 0
        response.endpoint = replica.url
        return response

    def report(self) -> list[dict[str, Any]]:
        """Each replica's routing state, for run.json and metrics (counts and latencies come from records)."""
        return [r.state() for r in self.replicas]

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.backend.aclose()
