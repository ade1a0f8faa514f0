"""What every fake platform shares: a controllable clock, rate windows, scripted faults and a record.

Time: rate windows and signature freshness read ``clock()`` — ``time.time`` by default, which
``time_machine`` moves, so a test that freezes time controls the platforms' windows too. Latency and
stalls use real (event-loop) time and never matter for correctness.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Clock = Callable[[], float]


@dataclass
class SlidingWindow:
    """At most ``limit`` accepted requests in any ``seconds``-long stretch (the strictest reading)."""

    limit: int
    seconds: float
    accepted: deque[float] = field(default_factory=deque)
    peak: int = 0  # the most requests ever seen inside one window

    def count(self, now: float) -> int:
        return sum(1 for at in self.accepted if at > now - self.seconds)

    def full(self, now: float) -> bool:
        return self.count(now) >= self.limit

    def record(self, now: float) -> None:
        self.accepted.append(now)
        self.peak = max(self.peak, self.count(now))


@dataclass(frozen=True)
class Pass:
    """Handle the next request normally (to script a fault for a later one)."""


@dataclass(frozen=True)
class Reply:
    """Answer the next request with this instead of handling it (nothing is delivered)."""

    status: int = 200
    errcode: int | None = None
    errmsg: str = "scripted failure"


@dataclass(frozen=True)
class Stall:
    """Never answer the next request. ``deliver``: the platform still posts the message (it just never says)."""

    deliver: bool = True


@dataclass(frozen=True)
class Slow:
    """Answer the next request normally, ``seconds`` late."""

    seconds: float


Action = Pass | Reply | Stall | Slow


@dataclass(frozen=True)
class Exchange:
    """One request as the fake saw it and what it answered."""

    platform: str
    kind: str  # robot, app, response_url, session, gettoken
    target: str  # robot key / token, member, session id
    payload: dict[str, Any]
    at: float
    errcode: int | None
    status: int = 200
    delivered: bool = False


class Gate:
    """Hold the first ``count`` requests until :meth:`release` (to prove that several senders are at work)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.waiting = 0
        self.reached = asyncio.Event()
        self._open = asyncio.Event()

    async def pass_through(self) -> None:
        if self._open.is_set() or self.waiting >= self.count:
            return
        self.waiting += 1
        if self.waiting >= self.count:
            self.reached.set()
        await self._open.wait()

    def release(self) -> None:
        self._open.set()


class Behaviour:
    """Latency, scripted faults and the exchange log of one fake platform."""

    platform = "fake"

    def __init__(self, *, clock: Clock = time.time, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self.log: list[Exchange] = []
        self.scripts: dict[str, deque[Action]] = {}
        self.gate: Gate | None = None
        self._released = asyncio.Event()
        self.request_seen = asyncio.Event()

    def script(self, target: str, *actions: Action) -> None:
        """Queue ``actions`` for the next requests to ``target`` (``"*"``: any target of this platform)."""
        self.scripts.setdefault(target, deque()).extend(actions)

    def hold_first(self, count: int) -> Gate:
        self.gate = Gate(count)
        return self.gate

    def release_stalls(self) -> None:
        self._released.set()
        if self.gate is not None:
            self.gate.release()

    def _next_action(self, target: str) -> Action | None:
        for key in (target, "*"):
            queue = self.scripts.get(key)
            if queue:
                return queue.popleft()
        return None

    def record(self, kind: str, target: str, payload: dict[str, Any], errcode: int | None, **extra: Any) -> None:
        self.log.append(Exchange(self.platform, kind, target, payload, self.clock(), errcode, **extra))

    async def behave(
        self, kind: str, target: str, payload: dict[str, Any], handle: Callable[[], web.Response]
    ) -> web.StreamResponse:
        """Apply the gate, any scripted action and the latency around ``handle``."""
        self.request_seen.set()
        if self.gate is not None:
            await self.gate.pass_through()
        action = self._next_action(target)
        if isinstance(action, Reply):
            self.record(kind, target, payload, action.errcode, status=action.status)
            if action.errcode is None:
                return web.Response(status=action.status, text="scripted failure")
            return web.json_response({"errcode": action.errcode, "errmsg": action.errmsg}, status=action.status)
        if isinstance(action, Stall):
            if action.deliver:
                handle()
            else:
                self.record(kind, target, payload, None, status=0)
            await self._released.wait()
            return web.Response(status=503, text="stalled")
        if isinstance(action, Slow):
            await asyncio.sleep(action.seconds)
        if self.latency:
            await asyncio.sleep(self.latency)
        return handle()

    # ---- what tests read ------------------------------------------------------------------------------

    def delivered(self, target: str | None = None) -> list[Exchange]:
        return [e for e in self.log if e.delivered and (target is None or e.target == target)]

    def errcodes(self) -> list[int]:
        return [e.errcode for e in self.log if e.errcode not in (None, 0)]


async def read_json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def answer(errcode: int, errmsg: str, **extra: Any) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg, **extra})
