"""What the job messages are made of, read from storage at the moment a job runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Group, GroupMember, OutboxMessage, PendingAction, Person, Role, Submission, Unit
from storage.outbound import quote
from storage.periods import Period

ANNOUNCE_ORIGIN = "announce"
SUMMARY_CHARS = 60


@dataclass(frozen=True)
class ReceivedReport:
    unit_name: str
    period: Period
    version: int
    received_at: datetime
    on_time: bool


@dataclass(frozen=True)
class AnnouncementMade:
    at: datetime
    summary: str  # the first line, quoted and shortened
    groups: int


@dataclass
class MissingUnit:
    """A unit with no report for a period, and its liaisons (A角 first)."""

    unit_id: int
    name: str
    division: str
    liaisons: list[Person] = field(default_factory=list)

    @property
    def liaison_names(self) -> list[str]:
        return [person.name for person in self.liaisons]


async def target_groups(session: AsyncSession, names: Sequence[str], *, office: bool) -> list[Group]:
    """The active groups a job posts to: those named, else every office group (``office``) or every other one."""
    query = select(Group).where(Group.active.is_(True)).order_by(Group.id)
    query = query.where(Group.name.in_(list(names))) if names else query.where(Group.is_office.is_(office))
    return list(await session.scalars(query))


async def reports_received(session: AsyncSession, start: datetime, end: datetime) -> list[ReceivedReport]:
    """Every report version received in ``[start, end)``, oldest first."""
    rows = await session.execute(
        select(Unit.name, Submission.period, Submission.version, Submission.received_at, Submission.on_time)
        .join(Unit, Unit.id == Submission.unit_id)
        .where(Submission.received_at >= start, Submission.received_at < end)
        .order_by(Submission.received_at, Submission.id)
    )
    return [
        ReceivedReport(row.name, Period.parse(row.period), row.version, row.received_at, row.on_time) for row in rows
    ]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        cleaned = line.strip().strip("*#- ").strip()
        if cleaned:
            return quote(cleaned, max_chars=SUMMARY_CHARS)
    return ""


async def announcements_made(session: AsyncSession, start: datetime, end: datetime) -> list[AnnouncementMade]:
    """Announcements queued in ``[start, end)`` (outbox rows with an ``announce`` origin), one per announcement."""
    rows = await session.execute(
        select(OutboxMessage.origin, func.min(OutboxMessage.created_at).label("at"), func.count().label("groups"))
        .where(
            (OutboxMessage.origin == ANNOUNCE_ORIGIN) | OutboxMessage.origin.startswith(f"{ANNOUNCE_ORIGIN}:"),
            OutboxMessage.created_at >= start,
            OutboxMessage.created_at < end,
            OutboxMessage.resent_from.is_(None),
        )
        .group_by(OutboxMessage.origin)
        .order_by(func.min(OutboxMessage.created_at))
    )
    found = []
    for origin, at, groups in rows:
        text = await _announcement_text(session, origin)
        found.append(AnnouncementMade(at=at, summary=_first_line(text) or "（无标题）", groups=groups))
    return found


async def _announcement_text(session: AsyncSession, origin: str) -> str:
    """The office's own words: from the confirmed pending action when there is one, else the posted body."""
    code = origin.partition(":")[2]
    if code:
        action = await session.get(PendingAction, code)
        if action is not None and isinstance(action.payload.get("text"), str):
            return str(action.payload["text"])
    body = await session.scalar(
        select(OutboxMessage.message).where(OutboxMessage.origin == origin).order_by(OutboxMessage.id).limit(1)
    )
    if not isinstance(body, dict):
        return ""
    lines = str(body.get("body", "")).splitlines()
    title = str(body.get("title", ""))
    return "\n".join(line for line in lines if title not in line) if title else "\n".join(lines)


def _unsubmitted(period: Period) -> ColumnElement[bool]:
    return ~exists().where(Submission.unit_id == Unit.id, Submission.period == str(period))


async def missing_units(session: AsyncSession, period: Period) -> list[MissingUnit]:
    """Active units with no report for ``period``, each with its active liaisons (A角, then B角)."""
    rows = await session.execute(
        select(Unit.id, Unit.name, Unit.division, Person)
        .outerjoin(
            Person,
            (Person.unit_id == Unit.id) & Person.active.is_(True) & Person.role.in_([Role.A, Role.B]),
        )
        .where(Unit.active.is_(True), _unsubmitted(period))
        .order_by(Unit.id, Person.role, Person.id)
    )
    units: dict[int, MissingUnit] = {}
    for unit_id, name, division, person in rows:
        unit = units.setdefault(unit_id, MissingUnit(unit_id, name, division))
        if person is not None:
            unit.liaisons.append(person)
    return list(units.values())


async def missing_by_group(
    session: AsyncSession, period: Period, groups: Sequence[Group]
) -> list[tuple[Group, list[MissingUnit]]]:
    """For each of ``groups``, the units missing a report whose liaisons sit there (with only those liaisons)."""
    if not groups:
        return []
    by_id = {group.id: group for group in groups}
    rows = await session.execute(
        select(GroupMember.group_id, Unit.id, Unit.name, Unit.division, Person)
        .join(Person, Person.id == GroupMember.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(
            GroupMember.group_id.in_(list(by_id)),
            Person.active.is_(True),
            Person.role.in_([Role.A, Role.B]),
            Unit.active.is_(True),
            _unsubmitted(period),
        )
        .order_by(GroupMember.group_id, Unit.id, Person.role, Person.id)
    )
    found: dict[int, dict[int, MissingUnit]] = {}
    for group_id, unit_id, name, division, person in rows:
        units = found.setdefault(group_id, {})
        units.setdefault(unit_id, MissingUnit(unit_id, name, division)).liaisons.append(person)
    return [(by_id[group_id], list(units.values())) for group_id, units in found.items()]
