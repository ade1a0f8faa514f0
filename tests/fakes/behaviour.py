"""What every fake platform shares: a controllable clock, rate windows, scripted or random faults and a record.

Time: rate windows and signature freshness read ``clock()`` — ``time.time`` by default, which
``time_machine`` moves, so a test that freezes time controls the platforms' windows too. Latency and
stalls use real (event-loop) time and never matter for correctness.

Faults are scripted per target (:meth:`Behaviour.script`) or drawn at random (:class:`RandomFaults`, seeded):
HTTP 5xx, the platform's rate-limit errcode, a refusal, a stall past the client's deadline, a connection
reset, a slow answer. A stall or a reset may come after the platform has posted the message, as in life.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections import Counter, deque
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
    """Never answer the next request. ``deliver``: the platform still posts the message (it just never says).

    ``seconds``: give up stalling after this long and answer 503 (``None``: until :meth:`Behaviour.release_stalls`).
    """

    deliver: bool = True
    seconds: float | None = None


@dataclass(frozen=True)
class Slow:
    """Answer the next request normally, ``seconds`` late."""

    seconds: float


@dataclass(frozen=True)
class Reset:
    """Reset the connection instead of answering. ``deliver``: the platform had posted the message already."""

    deliver: bool = False


Action = Pass | Reply | Stall | Slow | Reset

FAULT_KINDS = ("http5xx", "busy", "refuse", "stall", "reset", "slow")


@dataclass
class RandomFaults:
    """Each request to a target outside ``spare`` fails with probability ``rate``, in one of ``kinds`` (seeded).

    ``http5xx``: HTTP 500/502/503; ``busy``: the platform's rate-limit errcode (45009, 130101, 11232);
    ``refuse``: a permanent errcode (an invalid robot address); ``stall``: no answer for ``stall_seconds``
    (past the client's deadline), the message posted or not; ``reset``: the connection reset, the message
    posted or not; ``slow``: a correct answer after up to ``slow_seconds``.
    """

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    spare: frozenset[str] = frozenset()
    stall_seconds: float = 15.0
    slow_seconds: float = 1.5
    drawn: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not 0 <= self.rate <= 1:
            raise ValueError(f"fault kinds {sorted(unknown)} unknown or rate {self.rate} outside [0, 1]")
        self.rng = random.Random(self.seed)

    def draw(self, target: str, busy: int, refusal: tuple[int, str]) -> Action | None:
        if target in self.spare or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.drawn[kind] += 1
        match kind:
            case "http5xx":
                return Reply(status=self.rng.choice((500, 502, 503)))
            case "busy":
                return Reply(errcode=busy, errmsg="api freq out of limit (random fault)")
            case "refuse":
                return Reply(errcode=refusal[0], errmsg=refusal[1])
            case "stall":
                return Stall(deliver=self.rng.random() < 0.5, seconds=self.stall_seconds)
            case "reset":
                return Reset(deliver=self.rng.random() < 0.5)
            case _:
                return Slow(self.rng.uniform(0.0, self.slow_seconds))


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
    busy_errcode = -1  # the platform's "too many requests" errcode, for random faults
    refusal: tuple[int, str] = (-2, "refused (random fault)")  # a permanent errcode and its errmsg

    def __init__(self, *, clock: Clock = time.time, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self.log: list[Exchange] = []
        self.scripts: dict[str, deque[Action]] = {}
        self.faults: RandomFaults | None = None
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
        if self.faults is not None:
            return self.faults.draw(target, self.busy_errcode, self.refusal)
        return None

    def record(self, kind: str, target: str, payload: dict[str, Any], errcode: int | None, **extra: Any) -> None:
        self.log.append(Exchange(self.platform, kind, target, payload, self.clock(), errcode, **extra))

    async def behave(
        self,
        kind: str,
        target: str,
        payload: dict[str, Any],
        handle: Callable[[], web.Response],
        request: web.Request | None = None,
    ) -> web.StreamResponse:
        """Apply the gate, any scripted or random fault and the latency around ``handle``."""
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), action.seconds)
            return web.Response(status=503, text="stalled")
        if isinstance(action, Reset):
            if request is None:
                raise RuntimeError("a reset needs the request (pass request= to behave)")
            if action.deliver:
                handle()
            else:
                self.record(kind, target, payload, None, status=0)
            reset(request)
            return web.Response(status=503, text="reset")
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


def reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset (``SO_LINGER`` 0): the client reads ECONNRESET, not an answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def read_json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def answer(errcode: int, errmsg: str, **extra: Any) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg, **extra})
