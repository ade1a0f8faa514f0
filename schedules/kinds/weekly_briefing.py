"""每周工作通报: on Monday (or the week's first working day), last week's work and the coming week's arrangements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from schedules.dates import day_label, week_key, week_monday
from schedules.job import Job, JobSettings, targets
from schedules.kinds import monthly_circular
from schedules.occurrences import Occurrence, Planner
from storage.periods import Period
from storage.standing import period_standing

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings

# How many skipped weeks a briefing looks back over, so that a week without a briefing is not left out.
MAX_WEEKS_COVERED = 4


@dataclass(frozen=True)
class Upcoming:
    """A scheduled circular inside the coming week, for the briefing's 下周安排."""

    at: datetime
    month_label: str


@dataclass(frozen=True)
class DueItem:
    period: Period
    due: date


def week_occurrence(planner: Planner, day: date) -> Occurrence:
    """The weekly briefing of the week (Monday to Sunday) holding ``day``."""
    config = planner.settings.job(JOB)
    monday = week_monday(day)
    subject = week_key(monday)
    at = planner.at(monday, config.at)
    if planner.calendar.is_workday(monday):
        return Occurrence(JOB.name, at, monday, subject)
    why = planner.why(monday)
    if config.holiday_policy == "keep":
        return Occurrence(JOB.name, at, monday, subject, f"{why}，按设置照常发送")
    if config.holiday_policy == "skip":
        return Occurrence(JOB.name, at, monday, subject, f"{why}，按设置本周不发送", skipped=True)
    first = planner.calendar.first_workday_of_week(monday)
    if first is None:
        reason = planner.calendar.explain(monday).reason
        note = f"本周（{monday.month}月{monday.day}日起）没有工作日（{reason}），本周不发送"
        return Occurrence(JOB.name, at, monday, subject, note, skipped=True)
    note = f"{why}，顺延至本周第一个工作日{day_label(first)}"
    return Occurrence(JOB.name, planner.at(first, config.at), monday, subject, note)


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    found = []
    monday = week_monday(start)
    while monday <= end:
        found.append(week_occurrence(planner, monday))
        monday += timedelta(days=7)
    return found


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """The weekly briefing of the week holding ``at``: last week's work and the coming week's arrangements."""
    from schedules.compose import draft_links, draft_texts, local_midnight, open_round_lines, to_groups
    from schedules.content import announcements_made, reports_received, target_groups
    from schedules.drafts import pending_drafts
    from schedules.item_content import items_briefing
    from storage.monthly_round import deadline_of
    from storage.outbound import OutboundMessage

    occurrence = week_occurrence(env.planner, at.astimezone(env.policy.tz).date())
    monday = occurrence.nominal
    sunday = monday + timedelta(days=6)
    last_start = monday - timedelta(days=7)
    for _ in range(MAX_WEEKS_COVERED - 1):  # weeks that had no briefing are covered by this one
        if not week_occurrence(env.planner, last_start).skipped:
            break
        last_start -= timedelta(days=7)
    window = (local_midnight(last_start, env), local_midnight(monday, env))
    reports = await reports_received(session, *window)
    period = env.policy.deadline.open_period(at)
    standing = await period_standing(session, period)
    circulars = [
        Upcoming(o.at, Period.of(o.at.date()).previous().label)
        for o in env.planner.occurrences(monday, sunday, jobs=[monthly_circular.JOB.name])
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
        drafts=draft_texts(drafts),
        items=await items_briefing(session, env, at, window),
        open_rounds=await open_round_lines(session, env),
    )
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late, links=draft_links(drafts))
    groups = await target_groups(session, env.settings.job(JOB).groups, office=False)
    composition = to_groups(groups, message, f"{occurrence.subject}：报送{len(reports)}份，补充事项{len(drafts)}条")
    composition.drafts = drafts
    return composition


MOVED = {"shift": "周一休息则改在本周第一个工作日", "skip": "周一休息则本周不发", "keep": "周一休息照常发送"}


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    return f"每周一{config.at:%H:%M}发{targets(config, '各成员单位群')}（{MOVED[config.holiday_policy]}）"


JOB = Job(
    name="weekly-briefing",
    title="每周工作通报",
    order=10,
    settings=JobSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
