"""What a timed job is: one declaration naming its settings, when it runs and what it posts.

A kind of job is one module in :mod:`schedules.kinds` ending in ``JOB = Job(...)``: its name (the TOML key
``[schedules.NAME]`` and the name ``duban jobs run`` takes), its title, its settings model, its position in
listings, its planner and its composer. The registry (:mod:`schedules.registry`) finds the module, ``[schedules]``
gets a typed section for it, and the scheduler, the catch-up, ``duban jobs list/run`` and the office's chat commands
all reach it through the registry and :func:`schedules.jobs.run_job`. Nothing else is edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.occurrences import Occurrence, Planner
    from schedules.settings import ScheduleSettings

HolidayPolicy = Literal["shift", "skip", "keep"]
"""What a job does when its nominal day is not a working day: move to the next working day (weekly: the
first working day of that week), not run that time, or run on the day anyway."""

HOLIDAY_WORDS: dict[HolidayPolicy, str] = {
    "shift": "遇休息日顺延至下一个工作日",
    "skip": "遇休息日不执行",
    "keep": "遇休息日照常执行",
}


class JobSettings(BaseModel):
    """One timed job's section (``[schedules.weekly-briefing]`` …). Unknown keys are refused, so a typo is caught
    at start. A job with more settings declares a subclass in its own module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    at: time = time(9, 0)
    groups: tuple[str, ...] = ()  # empty: the job's default targets
    holiday_policy: HolidayPolicy = "shift"


SettingsT = TypeVar("SettingsT", bound=JobSettings)


def targets(config: JobSettings, default: str) -> str:
    """Where a job posts, for its description: the groups named in its section, else ``default``."""
    return "、".join(f"「{name}」" for name in config.groups) if config.groups else default


def every_day(config: JobSettings) -> str:
    """``每个工作日`` or, under ``keep``, ``每天``: for the descriptions of the jobs that run every (working) day."""
    return "每天" if config.holiday_policy == "keep" else "每个工作日"


class Composer(Protocol):
    """Compose what one occurrence posts; ``now`` is the moment the text speaks for."""

    async def __call__(
        self, session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
    ) -> Composition: ...


Plan = Callable[["Planner", date, date], "list[Occurrence]"]
"""A job's occurrences dated ``start`` to ``end`` on the office's calendar (skipped ones included)."""

Describe = Callable[["ScheduleSettings"], str]
"""When a job runs and what it does, in the office's words, under the settings (``duban jobs list``)."""


@dataclass(frozen=True)
class Job(Generic[SettingsT]):
    """One kind of timed job.

    ``settings`` is the model its ``[schedules.NAME]`` section is read into (``ScheduleSettings.job(JOB)`` returns
    it typed); ``order`` places it in ``duban jobs list`` and among occurrences due at the same moment; ``plan``
    lists its occurrences; ``compose`` builds its messages; ``describe`` says in a line when it runs (``duban jobs
    list`` shows it beside the next occurrence). ``checks`` is set for a job that only looks at each occurrence and
    posts when there is something (``当天有会议时``): listings show it once, with its next check, rather than on
    every day it looks (:mod:`schedules.listing`).
    """

    name: str
    title: str
    order: int
    settings: type[SettingsT]
    plan: Plan
    compose: Composer
    describe: Describe | None = None
    checks: str = ""

    @property
    def field(self) -> str:
        """Its attribute on ``ScheduleSettings`` and its environment spelling (``weekly_briefing``)."""
        return self.name.replace("-", "_")
