"""The 督办 ledger in the rhythm: what the weekly briefing and the monthly circular say about items, and the
morning reminders of amber and red items to their lead units' liaisons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schedules.context import ScheduleEnv
from storage import items as ledger
from storage.items import ClosedItem, ItemStanding, Light, MonthFigures
from storage.models import Group, GroupMember, ItemState, Person
from storage.outbound import Mention, OutboundMessage

# A briefing lists every red and amber item up to this many lines; beyond it (and for green items) it counts.
BRIEFING_ITEM_LINES = 30
CIRCULAR_UNIT_LINES = 20


@dataclass(frozen=True)
class ItemsBriefing:
    """The weekly briefing's 督办事项 section: open items by light, last week's closed ones, and the queue."""

    listed: list[ItemStanding]  # red first, then amber, then green, at most BRIEFING_ITEM_LINES
    red: int
    amber: int
    green: int
    not_listed: int
    closed: list[ClosedItem]  # at most BRIEFING_ITEM_LINES
    closed_count: int
    waiting: int  # raised, not yet assigned
    review: int  # reported done, awaiting the office

    @property
    def any(self) -> bool:
        return bool(self.listed or self.closed or self.waiting or self.review)


async def items_briefing(
    session: AsyncSession, env: ScheduleEnv, at: datetime, closed_window: tuple[datetime, datetime]
) -> ItemsBriefing:
    """The section as it stands at ``at``; closed items are those closed in ``closed_window`` (last week)."""
    standing = await ledger.by_standing(session, env.calendar, at, env.policy.tz)
    counts = {light: sum(1 for s in standing if s.light is light) for light in Light}
    closed = await ledger.closed_between(session, *closed_window)
    listed = [s for s in standing if s.light is not Light.GREEN][:BRIEFING_ITEM_LINES]
    room = BRIEFING_ITEM_LINES - len(listed)
    listed += [s for s in standing if s.light is Light.GREEN][: max(room, 0)]
    return ItemsBriefing(
        listed=listed,
        red=counts[Light.RED],
        amber=counts[Light.AMBER],
        green=counts[Light.GREEN],
        not_listed=len(standing) - len(listed),
        closed=closed[:BRIEFING_ITEM_LINES],
        closed_count=len(closed),
        waiting=await ledger.count_in(session, ItemState.RAISED),
        review=await ledger.count_in(session, ItemState.REVIEW),
    )


async def items_month(session: AsyncSession, env: ScheduleEnv, first: date, next_first: date) -> MonthFigures:
    """The ledger's figures for the month from ``first`` up to ``next_first``."""
    start = datetime.combine(first, time(0), tzinfo=env.policy.tz).astimezone(UTC)
    end = datetime.combine(next_first, time(0), tzinfo=env.policy.tz).astimezone(UTC)
    figures = await ledger.month_figures(session, start, end, env.policy.tz)
    return MonthFigures(
        figures.raised,
        figures.assigned,
        figures.closed,
        figures.overdue,
        figures.average_days_to_close,
        figures.by_unit[:CIRCULAR_UNIT_LINES],
    )


@dataclass
class ItemReminder:
    group: Group
    standings: list[ItemStanding] = field(default_factory=list)
    liaisons: list[Person] = field(default_factory=list)


async def item_reminders(
    session: AsyncSession, env: ScheduleEnv, at: datetime, *, groups: Sequence[Group] | None = None
) -> list[ItemReminder]:
    """One reminder per group where liaisons of lead units with red or amber items sit, naming those items."""
    standing = await ledger.by_standing(session, env.calendar, at, env.policy.tz)
    due = [s for s in standing if s.light is not Light.GREEN and s.item.lead_unit_id is not None]
    if not due:
        return []
    unit_ids = sorted({s.item.lead_unit_id for s in due if s.item.lead_unit_id is not None})
    liaisons = await ledger.liaisons_of(session, unit_ids)
    by_id = {person.id: person for person in liaisons}
    seats = await session.execute(
        select(GroupMember.group_id, GroupMember.person_id).where(GroupMember.person_id.in_(by_id))
    )
    seated: dict[int, list[Person]] = {}
    for group_id, person_id in seats:
        seated.setdefault(group_id, []).append(by_id[person_id])
    query = select(Group).where(Group.id.in_(seated), Group.active.is_(True)).order_by(Group.id)
    if groups is not None:
        query = query.where(Group.id.in_([group.id for group in groups]))
    found = []
    for group in await session.scalars(query):
        people = sorted(seated[group.id], key=lambda p: (p.unit_id or 0, p.role, p.id))
        units = {person.unit_id for person in people}
        standings = [s for s in due if s.item.lead_unit_id in units]
        if standings:
            found.append(ItemReminder(group, standings, people))
    return found


def reminder_message(
    env: ScheduleEnv, reminder: ItemReminder, at: datetime, *, late: bool, now: datetime
) -> OutboundMessage:
    rendered = env.templates.render(
        "item_reminder", standings=reminder.standings, at=at, now=now, late=late, office_name=env.policy.office_name
    )
    units = {s.item.lead_unit_id for s in reminder.standings}
    mentions = [Mention.of(person) for person in reminder.liaisons if person.unit_id in units]
    return OutboundMessage(title=rendered.title, body=rendered.body, mentions=mentions, late_post=late)
