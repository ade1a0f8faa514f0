"""Background work tied to the application's life: started after the database, drained on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.context import AppContext

log = logging.getLogger(__name__)

Worker = Callable[[AppContext, asyncio.Event], Awaitable[None]]
"""A long-running coroutine that works until the event is set, then finishes what it holds and returns."""


@dataclass
class Workers:
    """Runs named workers as tasks, keeps strong references, and drains them within a bound."""

    ctx: AppContext
    drain_seconds: float = 10.0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self, name: str, worker: Worker) -> None:
        task = asyncio.create_task(self._guard(name, worker), name=f"duban:{name}")
        self.tasks[name] = task

    async def _guard(self, name: str, worker: Worker) -> None:
        try:
            await worker(self.ctx, self.stopping)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s stopped on an error", name)

    def running(self, name: str) -> bool:
        task = self.tasks.get(name)
        return task is not None and not task.done()

    async def stop(self) -> None:
        self.stopping.set()
        if not self.tasks:
            return
        _done, pending = await asyncio.wait(self.tasks.values(), timeout=self.drain_seconds)
        for task in pending:
            log.warning("worker %s did not finish within %.0f s; cancelling", task.get_name(), self.drain_seconds)
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
