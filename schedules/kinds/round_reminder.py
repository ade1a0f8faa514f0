"""The round reminder (征集催报): on working mornings, each open collection due within a few working days reminds
only the units that have not answered, @-mentioning only those units' liaisons (A角, B角) in the groups they sit in.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import Composition, Delivery
from schedules.content import target_groups
from schedules.context import ScheduleEnv
from schedules.dates import moment_label
from schedules.job import Job, JobSettings, every_day
from schedules.occurrences import Occurrence, Planner
from storage import meetings, rounds
from storage.models import Group, GroupMember, Person, Role, Round
from storage.outbound import Mention, OutboundMessage, quote

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


class RoundReminderSettings(JobSettings):
    """``[schedules.round-reminder]``: open collections due within ``workdays_before`` working days (or overdue)
    remind the units that have not answered, on working mornings."""

    at: time = time(10, 0)
    workdays_before: int = Field(default=2, ge=0, le=20)


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    """Every working day (every day under ``keep``) at the configured time; the claim makes it once a day."""
    return planner.every_workday(JOB.name, planner.settings.job(JOB), start, end)


async def _due_soon(session: AsyncSession, env: ScheduleEnv, round_: Round, today: date, now: datetime) -> bool:
    """Due from today up to the configured number of working days ahead (overdue open rounds keep being chased).

    A meeting's 回执 are chased on the day they are due (the working day before the meeting) and never once the
    meeting has begun."""
    due = round_.deadline.astimezone(env.policy.tz).date()
    if round_.kind == meetings.KIND:
        meeting = await meetings.meeting_of(session, round_.id)
        return due == today and (meeting is None or meeting.starts_at > now)
    ahead = env.settings.job(JOB).workdays_before
    horizon = today
    for _ in range(ahead):
        horizon = env.calendar.next_workday(horizon)
    return due <= horizon


async def liaisons_by_group(
    session: AsyncSession, unit_ids: list[int], groups: list[Group]
) -> dict[int, dict[int, list[Person]]]:
    """group id → unit id → the unit's active liaisons sitting in that group (A角 first)."""
    rows = await session.execute(
        select(GroupMember.group_id, Person)
        .join(Person, Person.id == GroupMember.person_id)
        .where(
            GroupMember.group_id.in_([group.id for group in groups]),
            Person.unit_id.in_(unit_ids),
            Person.active.is_(True),
            Person.role.in_([Role.A, Role.B]),
        )
        .order_by(GroupMember.group_id, Person.unit_id, Person.role, Person.id)
    )
    found: dict[int, dict[int, list[Person]]] = {}
    for group_id, person in rows:
        assert person.unit_id is not None  # filtered by unit_id above
        found.setdefault(group_id, {}).setdefault(person.unit_id, []).append(person)
    return found


def _paragraph(round_: Round, when: str, units: str) -> str:
    title = quote(round_.title, max_chars=40)
    if round_.kind == meetings.KIND:
        return (
            f"会议#{round_.id}“{title}”回执{when}，以下单位尚未回执：{units}。"
            f"请联络员回复“#{round_.id} 参会人员：姓名、职务”。"
        )
    return f"征集#{round_.id}“{title}”{when}，以下单位尚未答复：{units}。请联络员回复“#{round_.id} …”。"


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """One message per group (its dedupe key is per group): a paragraph per round due soon naming that group's
    laggards, and @-mentions of only their liaisons."""
    today = at.astimezone(env.policy.tz).date()
    paragraphs: dict[int, list[str]] = {}
    mentioned: dict[int, dict[int, Mention]] = {}
    by_id: dict[int, Group] = {}
    reminded: set[tuple[int, int]] = set()
    for round_ in await rounds.open_rounds(session):
        if not await _due_soon(session, env, round_, today, now):
            continue
        standing = await rounds.round_standing(session, round_)
        names = {unit.unit_id: unit.unit_name for unit in standing.missing}
        if not names:
            continue
        groups = await target_groups(session, [round_.group] if round_.group else [], office=False)
        present_by_group = await liaisons_by_group(session, list(names), groups)
        for group in groups:
            present = present_by_group.get(group.id, {})
            if not present:
                continue
            by_id[group.id] = group
            units = "、".join(quote(names[unit_id]) for unit_id in present)
            passed = now > round_.deadline
            when = ("已过截止时间" if passed else "截止时间为") + moment_label(round_.deadline, env.policy.tz)
            paragraphs.setdefault(group.id, []).append(_paragraph(round_, when, units))
            people = mentioned.setdefault(group.id, {})
            for liaisons in present.values():
                people.update((person.id, Mention.of(person)) for person in liaisons)
            reminded.update((round_.id, unit_id) for unit_id in present)
    if not paragraphs:
        return Composition(note="没有需要提醒的征集（或均已答复）")
    deliveries = [
        Delivery(
            by_id[group_id],
            OutboundMessage(
                title="征集答复提醒",
                body="\n".join(lines),
                mentions=list(mentioned[group_id].values()),
                late_post=late,
            ),
        )
        for group_id, lines in paragraphs.items()
    ]
    return Composition(deliveries=deliveries, note=f"提醒未答复单位{len(reminded)}家次")


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    return (
        f"{every_day(config)}{config.at:%H:%M}，截止前{config.workdays_before}个工作日内（及已逾期）的征集"
        "提醒尚未答复的单位；会议回执在回执截止当天提醒"
    )


JOB = Job(
    name="round-reminder",
    title="征集催报",
    order=60,
    settings=RoundReminderSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
