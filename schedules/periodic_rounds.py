"""Report rounds that recur every few months, switched on in the TOML: quarterly and half-year ones
(每季度一通报, 每半年评估报告) and the rounds declared every N months (双月一汇报).

On the first working day after a period ends, its job opens the round — numbered like any collection, answered with
``#N`` (or by quoting the request) by the units' liaisons, chased by the round reminder, exported with ``duban export
--round N`` — due on the ``due_workdays``-th working day after the period's end. ``units`` names the units asked
(only those are asked, counted, reminded and exported; empty: every member unit); ``groups``, where it is posted. The
jobs (:mod:`schedules.kinds.quarterly_round`, :mod:`schedules.kinds.half_year_round`,
:mod:`schedules.kinds.periodic_rounds`) share this module's periods, settings and opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from schedules.dates import moment_label
from schedules.job import Job, JobSettings
from schedules.occurrences import Occurrence, Planner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition, Delivery
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings
    from storage import rounds

DEADLINE_AT = time(18, 0)
JANUARY = 2026 * 12  # periods counted from January 2026 (a month's index is year * 12 + month - 1): every 3 months
# are then the quarters, every 6 the halves, and any length dividing 12 falls within each year alike


class PeriodicRoundSettings(JobSettings):
    """``[schedules.quarterly-round]`` / ``[schedules.half-year-round]``: off unless switched on; opened on the first
    working day after the period, due on its ``due_workdays``-th working day after the period's end."""

    enabled: bool = False
    due_workdays: int = Field(default=10, ge=1, le=60)
    title: str = ""  # "{period}" stands for 2026年第四季度工作情况; empty: that title
    instructions: str = ""
    fields: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # the units asked, by name (empty: every member unit)


class RoundSeries(BaseModel):
    """``[[schedules.periodic-rounds.rounds]]``: a round opened every ``every_months`` months (双月一汇报: 2).

    Periods are counted from ``start``'s month (without it: from January 2026, so 2, 3, 4 and 6 months fall within
    every year); ``title`` may hold ``{period}`` (``2026年1—2月``), else the period follows it in brackets.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60)
    every_months: int = Field(ge=1, le=12)
    start: date | None = None
    due_workdays: int = Field(default=10, ge=1, le=60)
    instructions: str = ""
    fields: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def anchor(self) -> int:
        """The index (``year * 12 + month - 1``) of the month periods are counted from."""
        return month_index(self.start) if self.start else JANUARY


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _last_day(month_index: int) -> date:
    """The last day of the month ``month_index`` (``year * 12 + month - 1``)."""
    year, month = divmod(month_index + 1, 12)
    return date(year, month + 1, 1) - timedelta(days=1)


def period_ends(start: date, end: date, months: int, anchor: int = JANUARY) -> list[date]:
    """The last days of each ``months``-month period counted from the month indexed ``anchor``, ending in
    ``[start - 31 days, end]`` (a period just ended may open after a long holiday)."""
    first = month_index(start - timedelta(days=31))
    index = first - (first - anchor) % months + months - 1  # the last month of the period holding ``first``
    found = []
    while (last := _last_day(index)) <= end:
        if last >= start - timedelta(days=31):
            found.append(last)
        index += months
    return found


def period_end_before(day: date, months: int, anchor: int = JANUARY) -> date:
    """The last day of the latest ``months``-month period (counted from ``anchor``) that ended before ``day``."""
    current = month_index(day)
    return _last_day(current - (current - anchor) % months - 1)


def period_label(last: date, months: int) -> str:
    """``2026年3月``, ``2026年1—2月``, ``2026年12月—2027年1月``."""
    first = _last_day(month_index(last) - months + 1).replace(day=1)
    if months == 1:
        return f"{last.year}年{last.month}月"
    if first.year == last.year:
        return f"{last.year}年{first.month}—{last.month}月"
    return f"{first.year}年{first.month}月—{last.year}年{last.month}月"


def opening(planner: Planner, last: date, at: time) -> datetime:
    """When the round of the period ending ``last`` opens: the first working day after it."""
    return planner.at(planner.calendar.workday_on_or_after(last + timedelta(days=1)), at)


def _subject(last: date, months: int) -> tuple[str, str]:
    """(code, title) of the quarter or half-year ending ``last``."""
    if months == 3:
        quarter = (last.month - 1) // 3 + 1
        return f"Q{last.year}-{quarter}", f"{last.year}年第{'一二三四'[quarter - 1]}季度工作情况"
    half = 1 if last.month <= 6 else 2
    return f"H{last.year}-{half}", f"{last.year}年{'上下'[half - 1]}半年推进落实情况评估"


def plan(planner: Planner, job: Job[PeriodicRoundSettings], months: int, start: date, end: date) -> list[Occurrence]:
    """``job``'s openings dated ``start`` to ``end``: the first working day after each ``months``-month period."""
    config = planner.settings.job(job)
    found = []
    for last in period_ends(start, end, months):
        at = opening(planner, last, config.at)
        if start <= at.date() <= end:
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


def fixed_period_job(*, name: str, title: str, order: int, months: int) -> Job[PeriodicRoundSettings]:
    """The job opening a round after every ``months``-month period of the year (quarters: 3, halves: 6)."""

    def plan_openings(planner: Planner, start: date, end: date) -> list[Occurrence]:
        return plan(planner, job, months, start, end)

    def describe_openings(settings: ScheduleSettings) -> str:
        return describe(settings.job(job), name, months)

    async def compose_opening(
        session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
    ) -> Composition:
        return await compose(session, env, job, months, at, late=late, now=now)

    job = Job(
        name=name,
        title=title,
        order=order,
        settings=PeriodicRoundSettings,
        plan=plan_openings,
        compose=compose_opening,
        describe=describe_openings,
    )
    return job


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
    """Open the round of the quarter (half-year) that ended before ``at``, once."""
    from schedules.compose import Composition

    config = env.settings.job(job)
    last = period_end_before(at.astimezone(env.policy.tz).date(), months)
    code, title = _subject(last, months)
    asked = Asked(
        kind="quarterly" if months == 3 else "half-year",
        code=code,
        title=config.title.format(period=title) if config.title else title,
        instructions=config.instructions,
        fields=config.fields,
        units=config.units,
        groups=config.groups,
    )
    opened = await open_round(session, env, asked, last, config.due_workdays, late=late, now=now)
    return Composition(deliveries=opened.deliveries, note=opened.note)


@dataclass(frozen=True)
class Asked:
    """What a periodic round asks, of whom and where it is posted."""

    kind: str
    code: str  # unique per period: a re-run finds the round already opened
    title: str
    instructions: str
    fields: Sequence[str]
    units: Sequence[str]
    groups: Sequence[str]


@dataclass
class Opened:
    """What opening one round posts: the request to its groups, or a notice to the office when it could not open."""

    deliveries: list[Delivery] = field(default_factory=list)
    note: str = ""


async def open_round(
    session: AsyncSession,
    env: ScheduleEnv,
    asked: Asked,
    last: date,
    due_workdays: int,
    *,
    late: bool,
    now: datetime,
) -> Opened:
    """Open ``asked`` for the period ending ``last`` unless it is open already.

    Unit names that match no unit (or several) open nothing: the office groups are told which names to correct in
    the configuration, and that ``duban jobs run`` opens the round afterwards.
    """
    from sqlalchemy import select

    from schedules.compose import Delivery
    from schedules.content import target_groups
    from storage import rounds
    from storage.models import Round
    from storage.outbound import OutboundMessage, quote

    if await session.scalar(select(Round.id).where(Round.code == asked.code)) is not None:
        return Opened(note=f"{asked.title}已开启，未重复开启")
    choice = await rounds.choose_units(session, list(asked.units))
    if not choice.clear:
        return await _refused(session, asked, choice, late=late)
    groups = await target_groups(session, asked.groups, office=False)
    if not groups:
        return Opened(note=f"{asked.title}：没有可发送的群")
    due = last
    for _ in range(due_workdays):
        due = env.calendar.next_workday(due)
    round_ = Round(
        kind=asked.kind,
        title=asked.title,
        instructions=asked.instructions,
        fields=list(asked.fields),
        units=[unit.id for unit in choice.units],
        deadline=datetime.combine(due, DEADLINE_AT, tzinfo=env.policy.tz).astimezone(UTC),
        code=asked.code,
        created_at=now,
    )
    session.add(round_)
    await session.flush()
    example = " ".join(f"{name}：…" for name in asked.fields) if asked.fields else "报送内容"
    lines = [f"**征集#{round_.id}：{asked.title}**"]
    if asked.instructions:
        lines.append(asked.instructions)
    lines.append(f"截止时间：{moment_label(round_.deadline, env.policy.tz)}")
    if choice.units:
        listed = "、".join(quote(unit.name) for unit in choice.units)
        lines.append(f"征集对象：{listed}（共{len(choice.units)}家）。请以上单位联络员回复“#{round_.id} {example}”。")
    else:
        lines.append(f"请各成员单位联络员回复“#{round_.id} {example}”。")
    message = OutboundMessage(title=f"征集#{round_.id}：{asked.title}", body="\n".join(lines), late_post=late)
    return Opened(
        deliveries=[Delivery(group, message) for group in groups],
        note=f"开启征集#{round_.id}{asked.title}，截止{due.isoformat()}",
    )


async def _refused(session: AsyncSession, asked: Asked, choice: rounds.UnitChoice, *, late: bool) -> Opened:
    from schedules.compose import Delivery
    from schedules.content import target_groups
    from storage.outbound import OutboundMessage, quote

    problems = [f"“{quote(name)}”未找到" for name in choice.unknown]
    problems += [f"“{quote(name)}”可指{'、'.join(quote(c) for c in found)}" for name, found in choice.ambiguous.items()]
    body = (
        f"定期征集“{quote(asked.title)}”未开启：配置中的征集单位名称需核对（{'；'.join(problems)}）。"
        "请在配置文件中改正单位名称并重启服务后，执行 duban jobs run 补开本次征集。"
    )
    office = await target_groups(session, [], office=True)
    message = OutboundMessage(title="定期征集未开启", body=body, late_post=late)
    deliveries = [Delivery(group, message) for group in office]
    return Opened(deliveries=deliveries, note=f"{asked.title}未开启：单位名称需核对")
