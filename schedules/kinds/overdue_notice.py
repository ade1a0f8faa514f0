"""逾期未报名单: the working day after each monthly deadline, the office's list of units still missing a report."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from schedules.job import HOLIDAY_WORDS, Job, JobSettings, targets
from schedules.occurrences import Occurrence, Planner
from storage.periods import Period
from storage.standing import period_standing

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings
    from storage.outbound import OutboundMessage


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
    """The office's list of units still missing a report after the deadline. While the office's extension of the
    period's deadline (``截止 #N``) runs, nothing: the round reminder posts this list once the new deadline passed."""
    from schedules.compose import Composition, to_groups
    from schedules.content import target_groups
    from storage.monthly_round import deadline_of

    period = overdue_period(env.planner, at)
    deadline = await deadline_of(session, env.policy.deadline, period)
    if deadline != env.policy.deadline.deadline(period) and at <= deadline:  # moved past this notice (截止 #N)
        return Composition(note=f"{period} 截止时间已延至{deadline.astimezone(env.policy.tz):%Y-%m-%d %H:%M}，暂不通报")
    message, missing = await overdue_message(session, env, period, deadline, now=now, late=late)
    groups = await target_groups(session, env.settings.job(JOB).groups, office=True)
    return to_groups(groups, message, f"{period}：未报送{missing}家")


async def overdue_message(
    session: AsyncSession, env: ScheduleEnv, period: Period, deadline: datetime, *, now: datetime, late: bool
) -> tuple[OutboundMessage, int]:
    """The list of units missing ``period``'s report after ``deadline``, and how many they are."""
    from schedules.content import missing_units
    from storage.outbound import OutboundMessage

    standing = await period_standing(session, period)
    missing = await missing_units(session, period)
    rendered = env.templates.render(
        "overdue_notice",
        period=period,
        deadline=deadline,
        now=now,
        late=late,
        standing=standing,
        missing=missing,
    )
    return OutboundMessage(title=rendered.title, body=rendered.body, late_post=late), len(missing)


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
