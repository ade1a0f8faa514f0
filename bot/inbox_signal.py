"""What the inbound edge of a process tells its inbox worker.

Two things: a row was stored (start now rather than at the next poll), and callbacks are being stored right now
(let them through first). Platforms drop a callback that is not answered within seconds (DingTalk 1.5 s,
WeCom 5 s), while a stored message can wait a moment to be handled; so during a burst the worker gives way to
the edge and slows down, within bounds that guarantee it keeps making progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterator

# A burst: BURST_CALLBACKS callbacks stored within BURST_WINDOW seconds (40 a second; an office's ordinary traffic
# is a few a minute). During one the worker takes at most one row per BURST_PACE seconds, because a row costs
# milliseconds of the event loop that also answers the callbacks; the backlog is worked off after the burst.
BURST_CALLBACKS = 20
BURST_WINDOW = 0.5
BURST_PACE = 0.1


class InboxSignal:
    def __init__(self) -> None:
        self.stored = asyncio.Event()
        self._storing = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._recent: deque[float] = deque(maxlen=BURST_CALLBACKS)

    def note_stored(self) -> None:
        """A row was stored: wake the worker."""
        self._recent.append(time.monotonic())
        self.stored.set()

    @property
    def in_burst(self) -> bool:
        return len(self._recent) == BURST_CALLBACKS and time.monotonic() - self._recent[0] < BURST_WINDOW

    @contextlib.contextmanager
    def storing(self) -> Iterator[None]:
        """Held by the edge while a callback waits for its row to be committed."""
        self._storing += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._storing -= 1
            if not self._storing:
                self._quiet.set()

    @property
    def busy(self) -> bool:
        return self._storing > 0

    async def quiet(self, within: float) -> None:
        """Return once no callback is being stored, or after ``within`` seconds at the latest."""
        if self._storing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), timeout=within)

    async def give_way(self, within: float) -> None:
        """Before the worker takes a row: callbacks being stored go first (for ``within`` seconds at most), and
        during a burst of callbacks the worker keeps to a modest pace."""
        await self.quiet(within)
        if self.in_burst:
            await asyncio.sleep(BURST_PACE)
