"""Quarterly and half-year report rounds (每季度一通报, 每半年评估报告), switched on in the TOML.

On the first working day after a quarter (half-year) ends, the job opens the round — numbered like any collection,
answered with ``#N`` by the units' liaisons, chased by the round reminder, exported with ``duban export --round N``
— due on the ``due_workdays``-th working day after the period's end. The two jobs
(:mod:`schedules.kinds.quarterly_round`, :mod:`schedules.kinds.half_year_round`) share this module's settings model,
planner and composer, each with its period length.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import Composition, Delivery
from schedules.content import target_groups
from schedules.context import ScheduleEnv
from schedules.dates import moment_label
from schedules.job import Job, JobSettings
from schedules.occurrences import Occurrence, Planner
from storage.models import Round
from storage.outbound import OutboundMessage

DEADLINE_AT = time(18, 0)


class PeriodicRoundSettings(JobSettings):
    """``[schedules.quarterly-round]`` / ``[schedules.half-year-round]``: off unless switched on; opened on the first
    working day after the period, due on its ``due_workdays``-th working day after the period's end."""

    enabled: bool = False
    due_workdays: int = Field(default=10, ge=1, le=60)
    title: str = ""  # "{period}" stands for 2026年第四季度工作情况; empty: that title
    instructions: str = ""
    fields: tuple[str, ...] = ()


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


def plan(planner: Planner, job: Job[PeriodicRoundSettings], months: int, start: date, end: date) -> list[Occurrence]:
    """``job``'s openings dated ``start`` to ``end``: the first working day after each ``months``-month period."""
    config = planner.settings.job(job)
    found = []
    for last in _period_ends(start, end, months):
        opens = planner.calendar.workday_on_or_after(last + timedelta(days=1))
        if start <= opens <= end:
            at = planner.at(opens, config.at)
            found.append(Occurrence(job.name, at, last + timedelta(days=1), _subject(last, months)[0]))
    return found


def describe(config: PeriodicRoundSettings, name: str, months: int) -> str:
    """When the rounds open and fall due; how to switch them on while they are off."""
    period = "季度" if months == 3 else "半年"
    text = (
        f"每{period}结束后第一个工作日{config.at:%H:%M}开启征集，截止为{period}结束后"
        f"第{config.due_workdays}个工作日{DEADLINE_AT:%H:%M}"
    )
    return text if config.enabled else f"{text}（在配置 [schedules.{name}] 中设 enabled = true 即开启）"


def _period_end_before(day: date, months: int) -> date:
    first = date(day.year, ((day.month - 1) // months) * months + 1, 1)
    return first - timedelta(days=1)


async def compose(
    session: AsyncSession,
    env: ScheduleEnv,
    job: Job[PeriodicRoundSettings],
    months: int,
    at: datetime,
    *,
    late: bool,
    now: datetime,
) -> Composition:
    """Open the round of the period that ended before ``at`` (once: a round already opened is not opened again)."""
    config = env.settings.job(job)
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
