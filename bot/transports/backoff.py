"""When to try a long connection again: capped exponential back-off with jitter (reset once connected)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot.transports.status import LinkStatus


@dataclass
class Backoff:
    base: float = 1.0
    cap: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt: ``base·2ⁿ`` capped, jittered to half or more of it (several
        instances dropped by one gateway restart do not all come back in the same instant)."""
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 30))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)


async def pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless the service stops first; ``True`` when it is stopping."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def keep_connecting(
    log: logging.Logger,
    link: LinkStatus,
    stopping: asyncio.Event,
    backoff: Backoff,
    attempt: Callable[[], Awaitable[str]],
    refused: type[Exception],
) -> None:
    """Connect, serve until the connection ends, wait out the back-off, and connect again until the service stops.

    ``attempt`` opens and serves one connection and says why it ended. A ``refused`` answer (bad credentials, an
    app not allowed) is logged as an error, since a person must act; a network failure is a warning.
    """
    first = True
    while not stopping.is_set():
        if not first:
            link.reconnecting()
        first = False
        link.state = "connecting"
        try:
            reason = await attempt()
        except refused as exc:
            reason = f"refused ({exc})"
            log.error("the gateway refused to open a connection: %s", exc)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            reason = type(exc).__name__
            log.warning("connection failed (%s)", reason)
        link.lost(reason)
        if stopping.is_set() or await pause(stopping, backoff.next_delay()):
            break
    link.state = "stopped"
