"""月度工作通报: on the 1st (moved off holidays), last month's reporting and this month's plan."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from schedules.dates import month_key
from schedules.job import HOLIDAY_WORDS, Job, JobSettings, targets
from schedules.occurrences import Occurrence, Planner
from storage.periods import Period
from storage.standing import period_standing

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings


def month_occurrence(planner: Planner, day: date) -> Occurrence:
    """The monthly circular of the month holding ``day``."""
    first = day.replace(day=1)
    return planner.on_workday(JOB.name, planner.settings.job(JOB), first, month_key(first))


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    found = []
    first = start.replace(day=1)
    while first <= end:
        found.append(month_occurrence(planner, first))
        first = (first + timedelta(days=32)).replace(day=1)
    return found


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """The monthly circular of the month holding ``at``: last month's reporting and this month's plan."""
    from schedules.compose import draft_links, draft_texts, to_groups
    from schedules.content import target_groups
    from schedules.drafts import pending_drafts
    from schedules.item_content import items_month
    from storage.monthly_round import monthly_round
    from storage.outbound import OutboundMessage

    occurrence = month_occurrence(env.planner, at.astimezone(env.policy.tz).date())
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
        on_time_names_up_to=env.policy.documents.on_time_names_up_to,
        due=round_.deadline.astimezone(env.policy.tz).date(),
        round_number=round_.id,
        next_period=next_period,
        next_due=next_round.deadline.astimezone(env.policy.tz).date(),
        next_round_number=next_round.id,
        drafts=draft_texts(drafts),
        items=await items_month(session, env, work_month.first_day, work_month.next().first_day),
    )
    message = OutboundMessage(title=rendered.title, body=rendered.body, late_post=late, links=draft_links(drafts))
    groups = await target_groups(session, env.settings.job(JOB).groups, office=False)
    note = (
        f"{period}：按时{len(standing.on_time)}、逾期{len(standing.late)}、未报{len(standing.missing)}，"
        f"补充事项{len(drafts)}条"
    )
    composition = to_groups(groups, message, note)
    composition.drafts = drafts
    return composition


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    where = targets(config, "各成员单位群")
    return f"每月1日{config.at:%H:%M}发{where}，通报上月报送情况（{HOLIDAY_WORDS[config.holiday_policy]}）"


JOB = Job(
    name="monthly-circular",
    title="月度工作通报",
    order=20,
    settings=JobSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
