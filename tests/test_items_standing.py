"""红黄绿灯 on the working calendar: across the National Day break, unsigned items, and the ordering query."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from schedules.calendar import WorkCalendar
from storage import items as ledger
from storage.db import Database
from storage.items import Light, WorkdayCounter, item_light
from storage.models import Item, ItemState, Unit

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


ASSIGNED_AT = at(9, 29, 9)


def make(state: ItemState, due: date | None, assigned: datetime | None = ASSIGNED_AT, number: int = 1) -> Item:
    return Item(number=number, title="t", state=state, due=due, assigned_at=assigned)


@pytest.mark.parametrize(
    ("now", "light"),
    [
        (at(9, 29), Light.AMBER),  # ten calendar days, but only 9/30, 10/8, 10/9 are worked
        (at(10, 3), Light.AMBER),
        (at(10, 9, 17), Light.AMBER),  # due today
        (at(10, 10), Light.RED),  # the make-up Saturday after the break: overdue
    ],
)
def test_due_across_national_day(now: datetime, light: Light) -> None:
    assert item_light(make(ItemState.IN_PROGRESS, date(2026, 10, 9)), CALENDAR, now, TZ) is light


@pytest.mark.parametrize(
    ("now", "light"),
    [
        (at(9, 29), Light.GREEN),
        (at(9, 30), Light.GREEN),  # one working day since assignment
        (at(10, 7), Light.GREEN),  # the break does not count
        (at(10, 8), Light.AMBER),  # two working days, still unsigned
    ],
)
def test_unsigned_after_two_working_days(now: datetime, light: Light) -> None:
    assert item_light(make(ItemState.ASSIGNED, date(2026, 10, 30)), CALENDAR, now, TZ) is light
    # The same item once signed stays green.
    assert item_light(make(ItemState.IN_PROGRESS, date(2026, 10, 30)), CALENDAR, now, TZ) is Light.GREEN


def test_green_becomes_amber_within_three_working_days() -> None:
    item = make(ItemState.IN_PROGRESS, date(2026, 10, 12))
    assert item_light(item, CALENDAR, at(10, 7), TZ) is Light.GREEN  # 10/8, 10/9, 10/10, 10/12 left
    assert item_light(item, CALENDAR, at(10, 8), TZ) is Light.AMBER


@pytest.mark.parametrize("state", [ItemState.RAISED, ItemState.REVIEW, ItemState.CLOSED, ItemState.STOPPED])
def test_no_light(state: ItemState) -> None:
    assert item_light(make(state, date(2026, 10, 9)), CALENDAR, at(10, 20), TZ) is None


def test_workday_counter_in_any_order() -> None:
    counter = WorkdayCounter(CALENDAR)
    assert counter.after_until(date(2026, 10, 8), date(2026, 10, 12)) == 3
    assert counter.after_until(date(2026, 9, 29), date(2026, 10, 9)) == 3
    assert counter.after_until(date(2026, 9, 20), date(2026, 9, 29)) == 6
    assert counter.after_until(date(2026, 10, 9), date(2026, 10, 9)) == 0


async def test_by_standing_red_first(db: Database) -> None:
    async with db.transaction() as session:
        unit = Unit(name="省商务厅")
        session.add(unit)
        await session.flush()
        rows = [
            Item(number=1, title="绿", state=ItemState.IN_PROGRESS, due=date(2026, 12, 30), lead_unit_id=unit.id),
            Item(number=2, title="红", state=ItemState.IN_PROGRESS, due=date(2026, 10, 20), lead_unit_id=unit.id),
            Item(number=3, title="黄", state=ItemState.IN_PROGRESS, due=date(2026, 11, 2), lead_unit_id=unit.id),
            Item(number=4, title="更红", state=ItemState.ASSIGNED, due=date(2026, 10, 15), lead_unit_id=unit.id),
            Item(number=5, title="结", state=ItemState.CLOSED, due=date(2026, 10, 1), lead_unit_id=unit.id),
            Item(number=6, title="待", state=ItemState.RAISED),
        ]
        for row in rows:
            row.assigned_at = at(10, 10)
        session.add_all(rows)
    async with db.sessions() as session:
        standing = await ledger.by_standing(session, CALENDAR, at(10, 29), TZ)
    assert [(s.item.number, s.light) for s in standing] == [
        (4, Light.RED),
        (2, Light.RED),
        (3, Light.AMBER),
        (1, Light.GREEN),
    ]
    assert standing[0].days_overdue == 14 and standing[2].workdays_left == 2  # 10/30 and 11/2
