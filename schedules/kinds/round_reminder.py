"""The round reminder (征集催报): on working mornings, each open collection due within a few working days reminds
only the units that have not answered, @-mentioning only those units' liaisons (A角, B角) in the groups they sit in.
A monthly round whose deadline the office extended (``截止 #N``) is chased the same way until its new deadline, and
on the first working morning after it this job posts that period's overdue notice to the office (the overdue-notice
job's fixed plan, on the rule's deadline, deferred it).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from pydantic import Field

from schedules.dates import moment_label
from schedules.job import Job, JobSettings, every_day
from schedules.occurrences import Occurrence, Planner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition, Delivery
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings
    from storage.models import Group, Person, Round


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
    from storage import meetings

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
    from sqlalchemy import select

    from storage.models import GroupMember, Person, Role

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


def _paragraph(round_: Round, env: ScheduleEnv, when: str, units: str) -> str:
    from storage import meetings, rounds
    from storage.outbound import quote

    title = quote(round_.title, max_chars=40)
    if round_.kind == meetings.KIND:
        return (
            f"会议#{round_.id}“{title}”回执{when}，以下单位尚未回执：{units}。"
            f"请联络员回复“#{round_.id} 参会人员：姓名、职务”。"
        )
    if round_.kind == rounds.MONTHLY:  # chased only until its extended deadline (extended_monthly_rounds)
        return (
            f"月报#{round_.id}“{title}”截止时间已延至{moment_label(round_.deadline, env.policy.tz)}，"
            f"以下单位尚未报送：{units}。请联络员将工作进展发送给督办机器人。"
        )
    return f"征集#{round_.id}“{title}”{when}，以下单位尚未答复：{units}。请联络员回复“#{round_.id} …”。"


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """One message per group (its dedupe key is per group): a paragraph per round due soon naming that group's
    laggards, and @-mentions of only their liaisons."""
    from schedules.compose import Composition, Delivery
    from schedules.content import target_groups
    from storage import rounds
    from storage.outbound import Mention, OutboundMessage, quote

    today = at.astimezone(env.policy.tz).date()
    paragraphs: dict[int, list[str]] = {}
    mentioned: dict[int, dict[int, Mention]] = {}
    by_id: dict[int, Group] = {}
    reminded: set[tuple[int, int]] = set()
    for round_ in await rounds.open_rounds(session) + await rounds.extended_monthly_rounds(session, now):
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
            paragraphs.setdefault(group.id, []).append(_paragraph(round_, env, when, units))
            people = mentioned.setdefault(group.id, {})
            for liaisons in present.values():
                people.update((person.id, Mention.of(person)) for person in liaisons)
            reminded.update((round_.id, unit_id) for unit_id in present)
    overdue = await _overdue_after_extension(session, env, today, now=now, late=late)
    if not paragraphs and not overdue:
        return Composition(note="没有需要提醒的征集（或均已答复）")
    deliveries = [
        Delivery(
            by_id[group_id],
            OutboundMessage(
                title="会议回执提醒" if all(line.startswith("会议#") for line in lines) else "征集答复提醒",
                body="\n".join(lines),
                mentions=list(mentioned[group_id].values()),
                late_post=late,
            ),
        )
        for group_id, lines in paragraphs.items()
    ]
    taken = {delivery.group.id for delivery in deliveries}  # one message per group and occurrence
    deliveries += [delivery for delivery in overdue if delivery.group.id not in taken]
    note = f"提醒未答复单位{len(reminded)}家次" + (f"，逾期未报名单{len(overdue)}条" if overdue else "")
    return Composition(deliveries=deliveries, note=note)


async def _overdue_after_extension(
    session: AsyncSession, env: ScheduleEnv, today: date, *, now: datetime, late: bool
) -> list[Delivery]:
    """The overdue notice of each monthly round whose extended deadline passed since the previous working day."""
    from schedules.compose import Delivery
    from schedules.content import target_groups
    from schedules.kinds import overdue_notice
    from storage import rounds
    from storage.monthly_round import period_of

    start = datetime.combine(env.calendar.previous_workday(today), time(0), tzinfo=env.policy.tz)
    end = datetime.combine(today, time(0), tzinfo=env.policy.tz)
    found: dict[int, Delivery] = {}
    groups = await target_groups(session, env.settings.job(overdue_notice.JOB).groups, office=True)
    for round_ in await rounds.extended_monthly_rounds_due_between(session, start, end):
        period = period_of(round_)
        message, _ = await overdue_notice.overdue_message(session, env, period, round_.deadline, now=now, late=late)
        for group in groups:
            found.setdefault(group.id, Delivery(group, message))  # two periods at once: the earlier one
    return list(found.values())


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
