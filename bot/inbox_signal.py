"""What the inbound edge of a process tells its inbox worker.

Two things: a row was stored (start now rather than at the next poll), and callbacks are being stored right now
(let them through first). Platforms drop a callback that is not answered within seconds (DingTalk 1.5 s,
WeCom 5 s), while a stored message can wait a moment to be handled; so during a burst the worker gives way to
the edge, within a bound that guarantees it keeps making progress.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class InboxSignal:
    def __init__(self) -> None:
        self.stored = asyncio.Event()
        self._storing = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

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
