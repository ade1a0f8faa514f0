"""What a timed job is: one declaration naming its settings, when it runs and what it posts.

A new kind of job is one module holding its planner and composer and ending in a :class:`Job`, plus its line in
:mod:`schedules.registry`; the scheduler, the catch-up, ``duban jobs list/run`` and the office's chat commands
all go through the registry and :func:`schedules.jobs.run_job`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.occurrences import Occurrence, Planner
from schedules.settings import JobSettings, ScheduleSettings

if TYPE_CHECKING:
    from schedules.compose import Composition
    from schedules.context import ScheduleEnv


class Composer(Protocol):
    """Compose what one occurrence posts; ``now`` is the moment the text speaks for."""

    async def __call__(
        self, session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
    ) -> Composition: ...


@dataclass(frozen=True)
class Job:
    """One kind of timed job.

    ``settings_of`` picks its typed settings out of ``[schedules]``; ``plan`` lists its occurrences dated
    ``start`` to ``end`` on the office's calendar; ``compose`` builds its messages.
    """

    name: str
    title: str
    settings_of: Callable[[ScheduleSettings], JobSettings]
    plan: Callable[[Planner, date, date], list[Occurrence]]
    compose: Composer
