"""The 督办 ledger in queries: items by number, by unit, by standing (红黄绿灯), and the month's figures.

The standing is a pure function of an item, the working calendar and the moment (:func:`item_light`):

- red (红灯): the due date has passed;
- amber (黄灯): due within :data:`AMBER_WORKDAYS` working days, or assigned and still unsigned
  :data:`UNSIGNED_WORKDAYS` working days after assignment;
- green (绿灯): otherwise.

Items not yet assigned (no due date), awaiting the office's review (the unit has reported it done) or
ended (closed, stopped) carry no light. ``storage`` does not import ``schedules``: the calendar is any object
that answers ``is_workday(day)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Item, ItemEvent, ItemState, Person, Role, Unit

AMBER_WORKDAYS = 3
LIT_STATES = frozenset({ItemState.ASSIGNED, ItemState.IN_PROGRESS})
UNSIGNED_WORKDAYS = 2
# PostgreSQL: raising two items at once must not hand out one number twice (SQLite transactions are serial).
_NUMBER_LOCK = 0x6475_6261_6E49  # "dubanI"


class Workdays(Protocol):
    def is_workday(self, day: date) -> bool: ...


class Light(enum.StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"

    @property
    def label(self) -> str:
        return {"red": "红灯", "amber": "黄灯", "green": "绿灯"}[self.value]

    @property
    def mark(self) -> str:
        """``【红灯】``: text marks render alike in WeCom and DingTalk markdown and in plain text."""
        return f"【{self.label}】"

    @property
    def rank(self) -> int:
        return {"red": 0, "amber": 1, "green": 2}[self.value]


class WorkdayCounter:
    """Counts working days between dates with one calendar lookup per day (memoised prefix sums)."""

    def __init__(self, calendar: Workdays) -> None:
        self.calendar = calendar
        self._start: date | None = None
        self._cumulative: list[int] = []  # working days in [start, start + i]

    def _cover(self, day: date) -> None:
        if self._start is None:
            self._start = day
            self._cumulative = [int(self.calendar.is_workday(day))]
            return
        if day < self._start:
            head = []
            running = 0
            current = day
            while current < self._start:
                running += int(self.calendar.is_workday(current))
                head.append(running)
                current += timedelta(days=1)
            self._cumulative = head + [count + running for count in self._cumulative]
            self._start = day
            return
        while (day - self._start).days >= len(self._cumulative):
            nxt = self._start + timedelta(days=len(self._cumulative))
            self._cumulative.append(self._cumulative[-1] + int(self.calendar.is_workday(nxt)))

    def upto(self, day: date) -> int:
        """Working days from the counter's start to ``day`` inclusive (only differences are meaningful)."""
        if self._start is not None:
            offset = (day - self._start).days
            if 0 <= offset < len(self._cumulative):
                return self._cumulative[offset]
        self._cover(day)
        assert self._start is not None
        return self._cumulative[(day - self._start).days]

    def after_until(self, start: date, end: date) -> int:
        """Working days in ``(start, end]`` (zero when ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        before = self.upto(start)  # may re-anchor the sums backwards; ``end`` then only extends them forwards
        return self.upto(end) - before


def assess(
    state: ItemState, due: date | None, assigned_at: datetime | None, today: date, counter: WorkdayCounter, tz: tzinfo
) -> tuple[Light, int] | None:
    """The light of an item in ``state`` due ``due`` on ``today`` (see the module docstring), with the working
    days left until it is due (0 when due today or overdue); ``None`` for an item without a light."""
    if due is None or state not in LIT_STATES:
        return None
    if today > due:
        return Light.RED, 0
    left = counter.after_until(today, due)
    if left <= AMBER_WORKDAYS:
        return Light.AMBER, left
    if (
        state is ItemState.ASSIGNED
        and assigned_at is not None
        and counter.after_until(assigned_at.astimezone(tz).date(), today) >= UNSIGNED_WORKDAYS
    ):
        return Light.AMBER, left
    return Light.GREEN, left


def item_light(item: Item, calendar: Workdays, now: datetime, tz: tzinfo) -> Light | None:
    """The light of ``item`` at ``now`` on ``calendar`` in the office's zone ``tz``."""
    found = assess(item.state, item.due, item.assigned_at, now.astimezone(tz).date(), WorkdayCounter(calendar), tz)
    return found[0] if found else None


class ItemStanding(NamedTuple):
    item: ItemRow
    light: Light
    workdays_left: int  # working days in (today, due]; 0 when due today or overdue
    days_overdue: int  # calendar days past the due date


async def next_number(session: AsyncSession) -> int:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NUMBER_LOCK})
    highest = await session.scalar(select(func.max(Item.number)))
    return (highest or 0) + 1


def _loaded() -> tuple[object, ...]:
    return (
        selectinload(Item.lead_unit),
        selectinload(Item.supporting_units),
        selectinload(Item.raised_by).selectinload(Person.unit),
    )


async def by_number(session: AsyncSession, number: int) -> Item | None:
    return await session.scalar(select(Item).where(Item.number == number).options(*_loaded()))  # type: ignore[arg-type]


async def all_items(session: AsyncSession, *, with_events: bool = False) -> list[Item]:
    options = list(_loaded())
    if with_events:
        options.append(selectinload(Item.events))
    return list(await session.scalars(select(Item).order_by(Item.number).options(*options)))  # type: ignore[arg-type]


async def open_items(session: AsyncSession, *, unit_id: int | None = None) -> list[Item]:
    query = select(Item).where(Item.state.in_([s for s in ItemState if s.is_open])).order_by(Item.number)
    if unit_id is not None:
        query = query.where(Item.lead_unit_id == unit_id)
    return list(await session.scalars(query.options(*_loaded())))  # type: ignore[arg-type]


async def items_of_unit(session: AsyncSession, unit_id: int) -> list[Item]:
    """Every item ``unit`` leads or supports, by number."""
    supported = select(Item.id).join(Item.supporting_units).where(Unit.id == unit_id)
    query = select(Item).where((Item.lead_unit_id == unit_id) | Item.id.in_(supported)).order_by(Item.number)
    return list(await session.scalars(query.options(*_loaded())))  # type: ignore[arg-type]


@dataclass(frozen=True)
class UnitRef:
    id: int
    name: str


class ItemRow(NamedTuple):
    """What the standing needs of an item, read without the ORM (10,000 items stay well under 100 ms)."""

    id: int
    number: int
    title: str
    state: ItemState
    due: date | None
    assigned_at: datetime | None
    lead_unit_id: int | None
    lead_unit: UnitRef | None

    @classmethod
    def of(cls, item: Item) -> ItemRow:
        lead = UnitRef(item.lead_unit.id, item.lead_unit.name) if item.lead_unit is not None else None
        return cls(item.id, item.number, item.title, item.state, item.due, item.assigned_at, item.lead_unit_id, lead)


async def lit_rows(session: AsyncSession, *, unit_id: int | None = None) -> list[ItemRow]:
    """Items in a state that carries a light (assigned, in progress), as plain rows."""
    query = (
        select(Item.id, Item.number, Item.title, Item.state, Item.due, Item.assigned_at, Item.lead_unit_id, Unit.name)
        .outerjoin(Unit, Unit.id == Item.lead_unit_id)
        .where(Item.state.in_(sorted(LIT_STATES)))
    )
    if unit_id is not None:
        query = query.where(Item.lead_unit_id == unit_id)
    return [
        ItemRow(id_, number, title, state, due, assigned_at, lead_id, UnitRef(lead_id, name) if lead_id else None)
        for id_, number, title, state, due, assigned_at, lead_id, name in await session.execute(query)
    ]


def rank(items: Iterable[ItemRow], calendar: Workdays, now: datetime, tz: tzinfo) -> list[ItemStanding]:
    """The lit items among ``items``: red first (longest overdue first), then amber, then green, by due date."""
    today = now.astimezone(tz).date()
    counter = WorkdayCounter(calendar)
    found = []
    for item in items:
        assessed = assess(item.state, item.due, item.assigned_at, today, counter, tz)
        if assessed is None or item.due is None:
            continue
        light, left = assessed
        found.append(ItemStanding(item, light, left, max((today - item.due).days, 0)))
    order = {Light.RED: 0, Light.AMBER: 1, Light.GREEN: 2}
    found.sort(key=lambda s: (order[s.light], s.item.due, s.item.number))
    return found


async def by_standing(
    session: AsyncSession, calendar: Workdays, now: datetime, tz: tzinfo, *, unit_id: int | None = None
) -> list[ItemStanding]:
    """Open items with a light, red first (see :func:`rank`)."""
    return rank(await lit_rows(session, unit_id=unit_id), calendar, now, tz)


async def count_in(session: AsyncSession, state: ItemState) -> int:
    return int(await session.scalar(select(func.count()).select_from(Item).where(Item.state == state)) or 0)


@dataclass(frozen=True)
class ClosedItem:
    number: int
    title: str


async def closed_between(session: AsyncSession, start: datetime, end: datetime) -> list[ClosedItem]:
    """Items closed (已办结) in ``[start, end)``, in the order they were closed."""
    query = (
        select(Item.number, Item.title)
        .where(Item.state == ItemState.CLOSED, Item.closed_at >= start, Item.closed_at < end)
        .order_by(Item.closed_at, Item.number)
    )
    return [ClosedItem(number, title) for number, title in await session.execute(query)]


@dataclass(frozen=True)
class UnitFigures:
    unit_name: str
    assigned: int  # items the unit leads that were assigned in the month
    closed: int  # items the unit led that were closed in the month
    overdue: int  # open items the unit leads that are overdue at the month's end


@dataclass(frozen=True)
class MonthFigures:
    raised: int
    assigned: int
    closed: int
    overdue: int  # open items past their due date at the end of the month
    average_days_to_close: float | None  # from assignment to closing, over the items closed in the month
    by_unit: list[UnitFigures]

    @property
    def any(self) -> bool:
        return bool(self.raised or self.assigned or self.closed or self.overdue)


async def month_figures(session: AsyncSession, start: datetime, end: datetime, tz: tzinfo) -> MonthFigures:
    """The ledger's figures for the month ``[start, end)``; ``overdue`` as it stood when the month ended."""
    return figures_of(await all_items(session), start, end, tz)


def figures_of(items: Sequence[Item], start: datetime, end: datetime, tz: tzinfo) -> MonthFigures:
    """:func:`month_figures` over ``items`` already read (a report over several months reads them once)."""
    last_day = (end.astimezone(tz) - timedelta(seconds=1)).date()
    raised = [i for i in items if start <= i.created_at < end]
    assigned = [i for i in items if i.assigned_at is not None and start <= i.assigned_at < end]
    closed = [
        i for i in items if i.state is ItemState.CLOSED and i.closed_at is not None and start <= i.closed_at < end
    ]
    overdue = [
        i
        for i in items
        if i.due is not None
        and i.due < last_day
        and i.assigned_at is not None
        and i.assigned_at < end
        and (i.closed_at is None or i.closed_at >= end)
        and i.state is not ItemState.RAISED
    ]
    durations = [(i.closed_at - (i.assigned_at or i.created_at)).total_seconds() / 86400 for i in closed if i.closed_at]
    average = sum(durations) / len(durations) if durations else None
    units: dict[str, list[int]] = {}
    for index, group in enumerate((assigned, closed, overdue)):
        for item in group:
            if item.lead_unit is not None:
                units.setdefault(item.lead_unit.name, [0, 0, 0])[index] += 1
    by_unit = [UnitFigures(name, *counts) for name, counts in sorted(units.items(), key=lambda kv: (-kv[1][2], kv[0]))]
    return MonthFigures(len(raised), len(assigned), len(closed), len(overdue), average, by_unit)


def add_event(
    session: AsyncSession,
    item: Item,
    action: str,
    *,
    person: Person | None,
    at: datetime,
    text: str = "",
    old_due: date | None = None,
    new_due: date | None = None,
    inbox_id: int | None = None,
) -> ItemEvent:
    event = ItemEvent(
        item_id=item.id,
        at=at,
        person_id=person.id if person else None,
        actor=person.name if person else "",
        action=action,
        text=text,
        old_due=old_due,
        new_due=new_due,
        inbox_id=inbox_id,
    )
    session.add(event)
    return event


async def events_of(session: AsyncSession, item_id: int) -> list[ItemEvent]:
    return list(await session.scalars(select(ItemEvent).where(ItemEvent.item_id == item_id).order_by(ItemEvent.id)))


async def units_named(session: AsyncSession, name: str) -> list[Unit]:
    """The active unit called ``name``, or else every active unit whose name contains it (candidates)."""
    exact = await session.scalar(select(Unit).where(Unit.name == name, Unit.active.is_(True)))
    if exact is not None:
        return [exact]
    units = await session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id))
    return [unit for unit in units if name in unit.name]


async def liaisons_of(session: AsyncSession, unit_ids: Sequence[int]) -> list[Person]:
    if not unit_ids:
        return []
    query = (
        select(Person)
        .where(Person.unit_id.in_(unit_ids), Person.active.is_(True), Person.role.in_([Role.A, Role.B]))
        .order_by(Person.unit_id, Person.role, Person.id)
    )
    return list(await session.scalars(query))
