"""半年评估报送征集 (每半年评估报告): off unless ``[schedules.half-year-round] enabled = true``; see
:mod:`schedules.periodic_rounds`."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from schedules import periodic_rounds
from schedules.job import Job
from schedules.occurrences import Occurrence, Planner
from schedules.periodic_rounds import PeriodicRoundSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings

MONTHS = 6


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    return periodic_rounds.plan(planner, JOB, MONTHS, start, end)


def describe(settings: ScheduleSettings) -> str:
    return periodic_rounds.describe(settings.job(JOB), JOB.name, MONTHS)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    return await periodic_rounds.compose(session, env, JOB, MONTHS, at, late=late, now=now)


JOB = Job(
    name="half-year-round",
    title="半年评估报送征集",
    order=80,
    settings=PeriodicRoundSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
