"""Quarterly and half-year report rounds (每季度一通报, 每半年评估报告), switched on in the TOML.

On the first working day after a quarter (half-year) ends, the job opens the round — numbered like any collection,
answered with ``#N`` by the units' liaisons, chased by the round reminder, exported with ``duban export --round N``
— due on the ``due_workdays``-th working day after the period's end. Two jobs, one module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import Composition, Delivery
from schedules.content import target_groups
from schedules.context import ScheduleEnv
from schedules.dates import moment_label
from schedules.job import Composer
from schedules.occurrences import Occurrence, Planner
from schedules.settings import HALF_YEAR_ROUND, QUARTERLY_ROUND, PeriodicRoundSettings
from storage.models import Round
from storage.outbound import OutboundMessage

DEADLINE_AT = time(18, 0)


def _period_ends(start: date, end: date, months: int) -> list[date]:
    """The last days of each ``months``-month period (quarters: 3, halves: 6) ending in ``[start - 31 days, end]``."""
    found: list[date] = []
    year, month = start.year - 1, months
    while True:
        following = date(year + (month // 12), month % 12 + 1, 1)
        last = following - timedelta(days=1)
        if last > end:
            return found
        if last >= start - timedelta(days=31):
            found.append(last)
        month += months
        if month > 12:
            year, month = year + 1, month - 12


def _subject(last: date, months: int) -> tuple[str, str]:
    """(code, title) of the period ending ``last``."""
    if months == 3:
        quarter = (last.month - 1) // 3 + 1
        return f"Q{last.year}-{quarter}", f"{last.year}年第{'一二三四'[quarter - 1]}季度工作情况"
    half = 1 if last.month <= 6 else 2
    return f"H{last.year}-{half}", f"{last.year}年{'上下'[half - 1]}半年推进落实情况评估"


def _planner(
    job: str, months: int, settings_of: Callable[[Planner], PeriodicRoundSettings]
) -> Callable[[Planner, date, date], list[Occurrence]]:
    def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
        config = settings_of(planner)
        found = []
        for last in _period_ends(start, end, months):
            opens = planner.calendar.workday_on_or_after(last + timedelta(days=1))
            at = datetime.combine(opens, config.at, tzinfo=planner.tz)
            if start <= opens <= end:
                found.append(Occurrence(job, at, last + timedelta(days=1), _subject(last, months)[0]))
        return found

    return plan


def _period_end_before(day: date, months: int) -> date:
    first = date(day.year, ((day.month - 1) // months) * months + 1, 1)
    return first - timedelta(days=1)


def _composer(months: int, settings_of: Callable[[ScheduleEnv], PeriodicRoundSettings]) -> Composer:
    async def compose(
        session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
    ) -> Composition:
        config = settings_of(env)
        last = _period_end_before(at.astimezone(env.policy.tz).date(), months)
        code, title = _subject(last, months)
        title = config.title.format(period=title) if config.title else title
        due = last
        for _ in range(config.due_workdays):
            due = env.calendar.next_workday(due)
        if await session.scalar(select(Round.id).where(Round.code == code)) is not None:
            return Composition(note=f"{title}已开启，未重复开启")
        round_ = Round(
            kind="quarterly" if months == 3 else "half-year",
            title=title,
            instructions=config.instructions,
            fields=list(config.fields),
            deadline=datetime.combine(due, DEADLINE_AT, tzinfo=env.policy.tz).astimezone(UTC),
            code=code,
            created_at=now,
        )
        session.add(round_)
        await session.flush()
        example = " ".join(f"{name}：…" for name in config.fields) if config.fields else "报送内容"
        lines = [f"**征集#{round_.id}：{title}**"]
        if config.instructions:
            lines.append(config.instructions)
        lines.append(f"截止时间：{moment_label(round_.deadline, env.policy.tz)}")
        lines.append(f"请各成员单位联络员回复“#{round_.id} {example}”。")
        message = OutboundMessage(title=f"征集#{round_.id}：{title}", body="\n".join(lines), late_post=late)
        groups = await target_groups(session, config.groups, office=False)
        if not groups:
            return Composition(note=f"{title}：没有可发送的群")
        deliveries = [Delivery(group, message) for group in groups]
        return Composition(deliveries=deliveries, note=f"开启征集#{round_.id}{title}，截止{due.isoformat()}")

    return compose


plan_quarterly = _planner(QUARTERLY_ROUND, 3, lambda planner: planner.settings.quarterly_round)
plan_half_year = _planner(HALF_YEAR_ROUND, 6, lambda planner: planner.settings.half_year_round)
compose_quarterly = _composer(3, lambda env: env.settings.quarterly_round)
compose_half_year = _composer(6, lambda env: env.settings.half_year_round)
