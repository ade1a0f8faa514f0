"""Composing each job's messages from storage and the templates (no claim, nothing written).

A composer reads everything at the moment it runs (a unit that reported a minute ago is counted) and
returns the messages for each target group; :mod:`schedules.jobs` claims the occurrence first and writes
them, ``jobs run --dry-run`` and ``周报 预览`` only show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.content import (
    announcements_made,
    missing_units,
    reports_received,
    target_groups,
)
from schedules.context import ScheduleEnv
from schedules.dates import month_key
from schedules.documents.settings import document_settings
from schedules.drafts import pending_drafts
from schedules.item_content import item_reminders, items_briefing, items_month, reminder_message
from schedules.occurrences import Occurrence
from schedules.reminders import reminder_messages
from schedules.settings import MONTHLY_CIRCULAR
from storage import rounds
from storage.models import Draft, Group
from storage.monthly_round import deadline_of, monthly_round
from storage.outbound import OutboundMessage, addresses, quote_keeping_links
from storage.periods import Period
from storage.standing import period_standing

# How many skipped weeks a briefing looks back over, so that a week without a briefing is not left out.
MAX_WEEKS_COVERED = 4


@dataclass(frozen=True)
class Delivery:
    group: Group
    message: OutboundMessage


@dataclass
class Composition:
    """What a job would post: one message per group, the drafts it takes, and a note for the record."""

    deliveries: list[Delivery] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    note: str = ""
    dropped: bool = False  # a late reminder whose deadline has passed: nothing is posted


@dataclass(frozen=True)
class Upcoming:
    """A scheduled circular inside the coming week, for the briefing's 下周安排."""

    at: datetime
    month_label: str


@dataclass(frozen=True)
class OpenRound:
    """A collection still open, for its line in the weekly briefing."""

    number: int
    title: str
    due: date
    asked: int
    answered: int
    missing: int


async def open_round_lines(session: AsyncSession, env: ScheduleEnv) -> list[OpenRound]:
    found = []
    for round_ in await rounds.open_rounds(session):
        standing = await rounds.round_standing(session, round_)
        due = round_.deadline.astimezone(env.policy.tz).date()
        answered, missing = len(standing.answered), len(standing.missing)
        found.append(OpenRound(round_.id, round_.title, due, len(standing.units), answered, missing))
    return found


@dataclass(frozen=True)
class DueItem:
    period: Period
    due: date


def _local_midnight(day: date, env: ScheduleEnv) -> datetime:
    return datetime.combine(day, time(0), tzinfo=env.policy.tz).astimezone(UTC)


def _draft_texts(drafts: list[Draft]) -> list[str]:
    """The office's drafted items, inert but for their http/https links, which stay working links."""
    return [quote_keeping_links(draft.text).replace("\n", " ") for draft in drafts]


def _draft_links(drafts: list[Draft]) -> list[str]:
    return [link for draft in drafts for link in addresses(draft.text)]


def _to_groups(groups: list[Group], message: OutboundMessage, note: str) -> Composition:
    if not groups:
        return Composition(note="没有可发送的群（请检查 [[groups]] 和 [schedules] 中的 groups 配置）")
    return Composition(deliveries=[Delivery(group, message) for group in groups], note=note)


def week_subject(env: ScheduleEnv, at: datetime) -> Occurrence:
    return env.planner.week_occurrence(at.astimezone(env.policy.tz).date())


def month_subject(env: ScheduleEnv, at: datetime) -> Occurrence:
    return env.planner.month_occurrence(at.astimezone(env.policy.tz).date())


async def compose_weekly(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
) -> Composition:
    """The weekly briefing of the week holding ``at``: last week's work and the coming week's arrangements."""
    occurrence = week_subject(env, at)
    monday = occurrence.nominal
    sunday = monday + timedelta(days=6)
    last_start = monday - timedelta(days=7)
    for _ in range(MAX_WEEKS_COVERED - 1):  # weeks that had no briefing are covered by this one
        if not env.planner.week_occurrence(last_start).skipped:
            break
        last_start -= timedelta(days=7)
    window = (_local_midnight(last_start, env), _local_midnight(monday, env))
    reports = await reports_received(session, *window)
    period = env.policy.deadline.open_period(at)
    standing = await period_standing(session, period)
    circulars = [
        Upcoming(o.at, Period.of(o.at.date()).previous().label)
        for o in env.planner.occurrences(monday, sunday, jobs=[MONTHLY_CIRCULAR])
        if not o.skipped
    ]
    drafts = await pending_drafts(session, "weekly", occurrence.subject)
    rendered = env.templates.render(
        "weekly_briefing",
        office_name=env.policy.office_name,
        monday=monday,
        sunday=sunday,
        last_start=last_start,
        last_end=monday - timedelta(days=1),
        late=late,
        scheduled_at=at,
        issued=now.astimezone(env.policy.tz).date(),
        reports=reports,
        report_units=list(dict.fromkeys(report.unit_name for report in reports)),
        announcements=await announcements_made(session, *window),
        standing=standing,
        standing_due=env.policy.deadline.due_date(period),
        deadline_passed=at > await deadline_of(session, env.policy.deadline, period),
        deadlines=[
            DueItem(p, env.policy.deadline.due_date(p)) for p in env.planner.periods_due_between(monday, sunday)
        ],
        circulars=circulars,
        drafts=_draft_texts(drafts),
        items=await items_briefing(session, env, at, window),
        open_rounds=await open_round_lines(session, env),
    )
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late, links=_draft_links(drafts))
    groups = await target_groups(session, env.settings.weekly_briefing.groups, office=False)
    composition = _to_groups(groups, message, f"{occurrence.subject}：报送{len(reports)}份，补充事项{len(drafts)}条")
    composition.drafts = drafts
    return composition


async def compose_monthly(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
) -> Composition:
    """The monthly circular of the month holding ``at``: last month's reporting and this month's plan."""
    occurrence = month_subject(env, at)
    work_month = Period.of(occurrence.nominal).previous()  # the month the circular reports on
    period = work_month.previous()  # the reports collected during that month
    standing = await period_standing(session, period)
    next_period = work_month  # reported during the circular's own month
    round_ = await monthly_round(session, env.policy.deadline, period)
    next_round = await monthly_round(session, env.policy.deadline, next_period)
    drafts = await pending_drafts(session, "monthly", month_key(occurrence.nominal))
    rendered = env.templates.render(
        "monthly_circular",
        office_name=env.policy.office_name,
        work_month=work_month,
        late=late,
        scheduled_at=at,
        issued=now.astimezone(env.policy.tz).date(),
        standing=standing,
        on_time_first=sorted(standing.on_time, key=lambda unit: (unit.first_at, unit.unit_id)),
        on_time_names_up_to=document_settings(env.policy).on_time_names_up_to,
        due=round_.deadline.astimezone(env.policy.tz).date(),
        round_number=round_.id,
        next_period=next_period,
        next_due=next_round.deadline.astimezone(env.policy.tz).date(),
        next_round_number=next_round.id,
        drafts=_draft_texts(drafts),
        items=await items_month(session, env, work_month.first_day, work_month.next().first_day),
    )
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late, links=_draft_links(drafts))
    groups = await target_groups(session, env.settings.monthly_circular.groups, office=False)
    note = (
        f"{period}：按时{len(standing.on_time)}、逾期{len(standing.late)}、未报{len(standing.missing)}，"
        f"补充事项{len(drafts)}条"
    )
    composition = _to_groups(groups, message, note)
    composition.drafts = drafts
    return composition


async def compose_reminder(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
) -> Composition:
    """Reminders for the period whose deadline is next: to each target group with missing units' liaisons."""
    period = env.planner.reminder_period(at)
    if late and now > await deadline_of(session, env.policy.deadline, period):
        return Composition(note=f"{period} 已过截止时间，补发时不再催报", dropped=True)
    groups = await target_groups(session, env.settings.deadline_reminder.groups, office=False)
    plans = await reminder_messages(session, env, period, now=now, at=at, late_post=late, groups=groups)
    reminded = sorted({name for plan in plans for name in plan.unit_names})
    if not plans:
        return Composition(note=f"{period}：无需催报（均已报送或所在群未配置）")
    deliveries = [Delivery(plan.group, plan.message) for plan in plans]
    return Composition(deliveries=deliveries, note=f"{period}：提醒{len(reminded)}家单位")


async def compose_overdue(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
) -> Composition:
    """The office's list of units still missing a report after the deadline (none while an extension runs)."""
    period = env.planner.overdue_period(at)
    deadline = await deadline_of(session, env.policy.deadline, period)
    if deadline != env.policy.deadline.deadline(period) and at <= deadline:  # moved past this notice (截止 #N)
        return Composition(note=f"{period} 截止时间已延至{deadline.astimezone(env.policy.tz):%Y-%m-%d %H:%M}，暂不通报")
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
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late)
    groups = await target_groups(session, env.settings.overdue_notice.groups, office=True)
    return _to_groups(groups, message, f"{period}：未报送{len(missing)}家")


async def compose_item_reminder(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime
) -> Composition:
    """Amber and red 督办 items, to each group where their lead units' liaisons sit (those liaisons @-mentioned)."""
    names = env.settings.item_reminder.groups
    groups = await target_groups(session, names, office=False) if names else None
    reminders = await item_reminders(session, env, now, groups=groups)
    if not reminders:
        return Composition(note="没有需要提醒的黄灯、红灯事项（或牵头单位联络员所在群未配置）")
    deliveries = [Delivery(r.group, reminder_message(env, r, at, late=late, now=now)) for r in reminders]
    count = len({s.item.id for r in reminders for s in r.standings})
    return Composition(deliveries=deliveries, note=f"提醒黄灯、红灯事项{count}项")
