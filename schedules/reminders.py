"""Reminders to the liaisons of units that have not reported: used by the deadline-reminder job and by the
office's ``催办`` command.

Who is missing is read when the reminder is composed, so a unit that reported a minute ago drops out at
once; each group gets one message listing only the units whose liaisons (A角 and B角) sit in it, and
@-mentions exactly those liaisons. When everyone has reported nothing is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schedules.content import MissingUnit, missing_by_group
from schedules.context import ScheduleEnv
from storage.models import Group
from storage.monthly_round import deadline_of
from storage.outbound import Mention, OutboundMessage, enqueue_to_group
from storage.periods import Period
from storage.policy import Policy


@dataclass(frozen=True)
class ReminderMessage:
    group: Group
    units: list[MissingUnit]
    message: OutboundMessage

    @property
    def unit_names(self) -> list[str]:
        return [unit.name for unit in self.units]


async def reminder_messages(
    session: AsyncSession,
    env: ScheduleEnv,
    period: Period,
    *,
    now: datetime,
    groups: Sequence[Group],
    at: datetime | None = None,
    late_post: bool = False,
) -> list[ReminderMessage]:
    """One reminder per group in ``groups`` that holds liaisons of units missing a report for ``period``.

    ``at`` is the moment the reminder speaks for (its occurrence; ``now`` when sent on demand).
    """
    moment = at or now
    deadline = await deadline_of(session, env.policy.deadline, period)  # an extension (截止 #N) included
    due = deadline.astimezone(env.policy.tz).date()
    today = moment.astimezone(env.policy.tz).date()
    workdays_left = len(env.calendar.workdays_between(today + timedelta(days=1), due)) if today < due else 0
    found = []
    for group, units in await missing_by_group(session, period, groups):
        rendered = env.templates.render(
            "deadline_reminder",
            period=period,
            due=due,
            deadline=deadline,
            due_today=today == due,
            workdays_left=workdays_left,
            now=now,
            late=late_post,
            units=units,
        )
        mentions = [Mention.of(person) for unit in units for person in unit.liaisons]
        message = OutboundMessage(title=rendered.title, body=rendered.body, mentions=mentions, late_post=late_post)
        found.append(ReminderMessage(group=group, units=units, message=message))
    return found


async def enqueue_reminders(
    session: AsyncSession,
    policy: Policy,
    period: Period,
    *,
    now: datetime,
    origin: str,
    late_post: bool = False,
) -> list[str]:
    """Queue a reminder to every active group where liaisons of units missing ``period`` sit.

    Returns the names of the units reminded, in roster order (empty: nothing was queued).
    """
    env = ScheduleEnv.of(policy)
    groups = list(await session.scalars(select(Group).where(Group.active.is_(True)).order_by(Group.id)))
    reminded: dict[int, str] = {}
    for reminder in await reminder_messages(session, env, period, now=now, groups=groups, late_post=late_post):
        enqueue_to_group(session, reminder.group, reminder.message, origin=origin)
        reminded.update((unit.unit_id, unit.name) for unit in reminder.units)
    return [reminded[unit_id] for unit_id in sorted(reminded)]
