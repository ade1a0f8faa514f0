"""催报提醒: working days before each monthly deadline and on the day itself, to the liaisons of units that have
not reported (the reminders themselves are built by :mod:`schedules.reminders`, shared with the ``催办`` command)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from pydantic import field_validator

from schedules.dates import day_label
from schedules.job import Job, JobSettings, targets
from schedules.occurrences import Occurrence, Planner
from storage.periods import Period

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings


class ReminderSettings(JobSettings):
    """``[schedules.deadline-reminder]``: working days before the deadline, and the times on the day itself."""

    at: time = time(9, 30)
    days_before: tuple[int, ...] = (5, 2, 1)
    deadline_day_at: tuple[time, ...] = (time(9, 30), time(15, 0))

    @field_validator("days_before")
    @classmethod
    def _days_before(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= day <= 20 for day in value) or len(set(value)) != len(value):
            raise ValueError("应为 1 到 20 之间、互不重复的工作日数")
        return value


def reminders_for(planner: Planner, period: Period) -> list[Occurrence]:
    config = planner.settings.job(JOB)
    due = planner.policy.deadline.due_date(period)
    prefix = planner.deadline_note(period)
    found: dict[datetime, Occurrence] = {}
    for n in sorted(config.days_before, reverse=True):
        day = planner.calendar.nth_workday_before(due, n)
        at = planner.at(day, config.at)
        found[at] = Occurrence(JOB.name, at, due, str(period), f"{prefix}截止日前第{n}个工作日")
    for at_time in config.deadline_day_at:
        occurrence = _deadline_day_reminder(planner, period, due, at_time, prefix)
        existing = found.get(occurrence.at)
        if existing is None:
            found[occurrence.at] = occurrence
        elif not occurrence.skipped:  # a deadline-day reminder moved onto one already planned: one post
            merged = f"{existing.note}；{occurrence.note.removeprefix(prefix)}"
            found[occurrence.at] = Occurrence(JOB.name, occurrence.at, due, str(period), merged)
    return sorted(found.values(), key=lambda occurrence: occurrence.at)


def _deadline_day_reminder(planner: Planner, period: Period, due: date, at_time: time, prefix: str) -> Occurrence:
    config = planner.settings.job(JOB)
    if planner.calendar.is_workday(due) or config.holiday_policy == "keep":
        note = f"{prefix}截止日当天" + (
            "" if planner.calendar.is_workday(due) else f"（{planner.why(due)}，按设置照常发送）"
        )
        return Occurrence(JOB.name, planner.at(due, at_time), due, str(period), note)
    why = f"截止日{planner.why(due)}"
    if config.holiday_policy == "skip":
        note = f"{prefix}{why}，按设置当天不发送"
        return Occurrence(JOB.name, planner.at(due, at_time), due, str(period), note, skipped=True)
    before = planner.calendar.previous_workday(due)
    note = f"{prefix}{why}，截止日当天的提醒提前至{day_label(before)}"
    return Occurrence(JOB.name, planner.at(before, at_time), due, str(period), note)


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    search_end = end + timedelta(days=45)  # the 5th working day before a deadline may be weeks earlier
    found = []
    for period in planner.periods_due_between(start, search_end):
        found += [o for o in reminders_for(planner, period) if start <= o.at.date() <= end]
    return found


def reminder_period(planner: Planner, at: datetime) -> Period:
    """The period a reminder at ``at`` chases: the one with the nearest deadline not before it."""
    local = at.astimezone(planner.tz).date()
    candidates = [Period.of(local).previous().previous(), Period.of(local).previous(), Period.of(local)]
    upcoming = [p for p in candidates if planner.policy.deadline.due_date(p) >= local]
    return min(upcoming, key=planner.policy.deadline.due_date)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """Reminders for the period whose deadline is next: to each target group with missing units' liaisons."""
    from schedules.compose import Composition, Delivery
    from schedules.content import target_groups
    from schedules.reminders import reminder_messages
    from storage.monthly_round import deadline_of

    period = reminder_period(env.planner, at)
    if late and now > await deadline_of(session, env.policy.deadline, period):
        return Composition(note=f"{period} 已过截止时间，补发时不再催报", dropped=True)
    groups = await target_groups(session, env.settings.job(JOB).groups, office=False)
    plans = await reminder_messages(session, env, period, now=now, at=at, late_post=late, groups=groups)
    reminded = sorted({name for plan in plans for name in plan.unit_names})
    if not plans:
        return Composition(note=f"{period}：无需催报（均已报送或所在群未配置）")
    deliveries = [Delivery(plan.group, plan.message) for plan in plans]
    return Composition(deliveries=deliveries, note=f"{period}：提醒{len(reminded)}家单位")


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    days = "、".join(str(n) for n in sorted(config.days_before, reverse=True))
    before = f"截止日前第{days}个工作日{config.at:%H:%M}" if days else ""
    on_day = "、".join(f"{at:%H:%M}" for at in config.deadline_day_at)
    parts = [part for part in (before, f"截止日当天{on_day}" if on_day else "") if part]
    return f"{'及'.join(parts)}，在{targets(config, '各成员单位群')}@尚未报送单位的联络员"


JOB = Job(
    name="deadline-reminder",
    title="催报提醒",
    order=30,
    settings=ReminderSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
