"""定期征集: the rounds declared in ``[[schedules.periodic-rounds.rounds]]``, each opened every ``every_months`` months
(双月一汇报: 2) on the first working day after its period; see :mod:`schedules.periodic_rounds`.

Openings due at the same moment are one occurrence (the claim is per job and moment). A run opens, for every
declared round, the period that ended before it if that period's round is not open yet and its deadline has not
passed — so ``duban jobs run periodic-rounds`` after a correction opens what a refused run left unopened, and a
re-run opens nothing twice (the round's code is unique per series and period).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import TYPE_CHECKING

from schedules.job import Job, JobSettings
from schedules.occurrences import Occurrence, Planner
from schedules.periodic_rounds import (
    Asked,
    RoundSeries,
    open_round,
    opening,
    period_end_before,
    period_ends,
    period_label,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings
    from storage.outbound import OutboundMessage


class PeriodicRoundsSettings(JobSettings):
    """``[schedules.periodic-rounds]``: when the declared rounds open (``at``), and the rounds themselves."""

    rounds: tuple[RoundSeries, ...] = ()


def code(series: RoundSeries, last: date) -> str:
    """The round's code: stable for (series, period), so a re-run finds the round already opened."""
    digest = hashlib.blake2s(series.title.encode(), digest_size=3).hexdigest().upper()
    return f"P{last:%y%m}{digest}"


def title(series: RoundSeries, last: date) -> str:
    label = period_label(last, series.every_months)
    return series.title.replace("{period}", label) if "{period}" in series.title else f"{series.title}（{label}）"


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    """One occurrence per moment some declared round opens."""
    config = planner.settings.job(JOB)
    found: dict[datetime, list[str]] = {}
    for series in config.rounds:
        for last in period_ends(start, end, series.every_months, series.anchor):
            at = opening(planner, last, config.at)
            if start <= at.date() <= end and (series.start is None or last >= series.start):
                found.setdefault(at, []).append(title(series, last))
    return [Occurrence(JOB.name, at, at.date(), "、".join(titles)) for at, titles in sorted(found.items())]


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    from schedules.compose import Composition, Delivery
    from storage.models import Group

    config = env.settings.job(JOB)
    today = at.astimezone(env.policy.tz).date()
    by_group: dict[int, list[OutboundMessage]] = {}
    groups: dict[int, Group] = {}
    notes = []
    for series in config.rounds:
        last = period_end_before(today, series.every_months, series.anchor)
        if series.start is not None and last < series.start:
            continue
        due = last
        for _ in range(series.due_workdays):
            due = env.calendar.next_workday(due)
        if due < today:
            continue
        asked = Asked(
            kind="periodic",
            code=code(series, last),
            title=title(series, last),
            instructions=series.instructions,
            fields=series.fields,
            units=series.units,
            groups=series.groups,
        )
        opened = await open_round(session, env, asked, last, series.due_workdays, late=late, now=now)
        notes.append(opened.note)
        for delivery in opened.deliveries:
            groups[delivery.group.id] = delivery.group
            by_group.setdefault(delivery.group.id, []).append(delivery.message)
    deliveries = [Delivery(groups[group_id], _joined(messages)) for group_id, messages in by_group.items()]
    return Composition(deliveries=deliveries, note="；".join(notes) or "没有到期的定期征集")


def _joined(messages: list[OutboundMessage]) -> OutboundMessage:
    """One message per group (its dedupe key is per group and occurrence) holding every request for it."""
    from storage.outbound import OutboundMessage

    if len(messages) == 1:
        return messages[0]
    return OutboundMessage(
        title="、".join(message.title for message in messages),
        body="\n\n".join(message.body for message in messages),
        late_post=messages[0].late_post,
    )


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    if not config.rounds:
        return "配置中未声明定期征集（可在 [[schedules.periodic-rounds.rounds]] 中声明，如双月一汇报 every_months = 2）"
    declared = "；".join(
        f"{series.title.replace('{period}', '')}每{series.every_months}个月" for series in config.rounds
    )
    return f"已声明定期征集{len(config.rounds)}项（每期结束后第一个工作日{config.at:%H:%M}开启）：{declared}"


JOB = Job(
    name="periodic-rounds",
    title="定期征集（每N个月）",
    order=85,
    settings=PeriodicRoundsSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
