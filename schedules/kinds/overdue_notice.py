"""逾期未报名单: the working day after each monthly deadline, the office's list of units still missing a report."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import Composition, to_groups
from schedules.content import missing_units, target_groups
from schedules.context import ScheduleEnv
from schedules.job import HOLIDAY_WORDS, Job, JobSettings, targets
from schedules.occurrences import Occurrence, Planner
from storage.outbound import OutboundMessage
from storage.periods import Period
from storage.standing import period_standing

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


def overdue_for(planner: Planner, period: Period) -> Occurrence:
    due = planner.policy.deadline.due_date(period)
    prefix = planner.deadline_note(period)
    return planner.on_workday(JOB.name, planner.settings.job(JOB), due + timedelta(days=1), str(period), prefix)


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    found = []
    for period in planner.periods_due_between(start - timedelta(days=45), end):
        occurrence = overdue_for(planner, period)
        if start <= occurrence.at.date() <= end:
            found.append(occurrence)
    return found


def overdue_period(planner: Planner, at: datetime) -> Period:
    """The period an overdue notice at ``at`` names: the one whose deadline passed most recently."""
    local = at.astimezone(planner.tz).date()
    candidates = [Period.of(local).previous().previous().previous(), Period.of(local).previous().previous()]
    candidates.append(Period.of(local).previous())
    passed = [p for p in candidates if planner.policy.deadline.due_date(p) < local]
    return max(passed, key=planner.policy.deadline.due_date)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """The office's list of units still missing a report after the deadline."""
    period = overdue_period(env.planner, at)
    standing = await period_standing(session, period)
    missing = await missing_units(session, period)
    rendered = env.templates.render(
        "overdue_notice",
        period=period,
        deadline=env.policy.deadline.deadline(period),
        now=now,
        late=late,
        standing=standing,
        missing=missing,
    )
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late)
    groups = await target_groups(session, env.settings.job(JOB).groups, office=True)
    return to_groups(groups, message, f"{period}：未报送{len(missing)}家")


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    where = targets(config, "办公室群")
    return f"截止日次日{config.at:%H:%M}发{where}，列出逾期未报单位（{HOLIDAY_WORDS[config.holiday_policy]}）"


JOB = Job(
    name="overdue-notice",
    title="逾期未报名单",
    order=40,
    settings=JobSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
