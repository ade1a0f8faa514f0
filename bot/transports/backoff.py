"""When to try a long connection again: capped exponential back-off with jitter (reset once connected)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass


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
