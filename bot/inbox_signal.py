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
# is a few a minute). During one the worker keeps to BURST_SHARE of the time of the event loop that also answers
# the callbacks: after a step that took t seconds it rests t * (1 / BURST_SHARE - 1), and at least BURST_PACE.
# Its steps are short batches (inbox_worker.BURST_BATCH rows, filed together), because a step's fixed cost (the
# claim, the transaction, waking the dispatcher) is most of the cost of one row: one row a step, as before, cost
# the edge a sixth of its throughput for ten rows a second. The backlog is worked off after the burst.
BURST_CALLBACKS = 20
BURST_WINDOW = 0.5
BURST_PACE = 0.1
BURST_SHARE = 0.05


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

    async def give_way(self, within: float, *, spent: float = 0.0) -> None:
        """Before the worker takes a step: callbacks being stored go first (for ``within`` seconds at most), and
        during a burst of callbacks the worker rests in proportion to the ``spent`` seconds of its last step."""
        await self.quiet(within)
        if self.in_burst:
            await asyncio.sleep(max(BURST_PACE, spent * (1 / BURST_SHARE - 1)))
