"""A period's standing: which active units reported on time, late, or not at all.

One statement decides it, written here once in plain SQL that SQLite and PostgreSQL both run: the service runs it
through its SQLAlchemy session (:func:`period_standing`: 统计, the circulars, the console, the documents) and
``duban status`` on SQLite through Python's own ``sqlite3`` (:mod:`storage.sqlite_read`), so that the command
answers without loading SQLAlchemy and its models, a third of a second. :func:`standing_of_rows` reads the rows
of either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.periods import Period

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# A unit counts as on time when its *first* version arrived by the deadline (``on_time`` is decided when a version
# is stored): a later correction does not make an on-time report late.
STANDING_SQL = """
SELECT unit.id, unit.name, unit.division, versions.first_at, versions.latest_at, versions.versions,
       versions.any_on_time
FROM unit
LEFT OUTER JOIN (
    SELECT unit_id, MIN(received_at) AS first_at, MAX(received_at) AS latest_at, COUNT(*) AS versions,
           MAX(CAST(on_time AS INTEGER)) AS any_on_time
    FROM submission
    WHERE period = :period
    GROUP BY unit_id
) AS versions ON versions.unit_id = unit.id
WHERE unit.active = TRUE
ORDER BY unit.id
"""


@dataclass(frozen=True)
class UnitStanding:
    unit_id: int
    unit_name: str
    division: str
    status: str  # "on_time" | "late" | "missing"
    first_at: datetime | None = None
    latest_at: datetime | None = None
    versions: int = 0

    @property
    def label(self) -> str:
        return {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送"}[self.status]


@dataclass(frozen=True)
class PeriodStanding:
    period: Period
    units: list[UnitStanding] = field(default_factory=list)

    def with_status(self, status: str) -> list[UnitStanding]:
        return [unit for unit in self.units if unit.status == status]

    @property
    def on_time(self) -> list[UnitStanding]:
        return self.with_status("on_time")

    @property
    def late(self) -> list[UnitStanding]:
        return self.with_status("late")

    @property
    def missing(self) -> list[UnitStanding]:
        return self.with_status("missing")

    @property
    def on_time_rate(self) -> float:
        return len(self.on_time) / len(self.units) if self.units else 0.0


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back the text SQLAlchemy wrote (UTC, no zone),
    PostgreSQL an aware datetime (``storage.models.base.UtcDateTime`` on either)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def standing_of_rows(period: Period, rows: Iterable[Sequence[Any]]) -> PeriodStanding:
    """The standing from the rows of :data:`STANDING_SQL` (tuples in its column order)."""
    # Positional unpacking: with thousands of units, row attribute lookups are a noticeable share of the time.
    units = [
        UnitStanding(
            unit_id,
            name,
            division,
            "missing" if versions is None else ("on_time" if any_on_time else "late"),
            _utc(first_at),
            _utc(latest_at),
            versions or 0,
        )
        for unit_id, name, division, first_at, latest_at, versions, any_on_time in rows
    ]
    return PeriodStanding(period=period, units=units)


async def period_standing(session: AsyncSession, period: Period) -> PeriodStanding:
    """The standing of every active unit for ``period``, in one grouped query."""
    from sqlalchemy import text  # loaded wherever there is a session; not by ``duban status`` reading this module

    rows = await session.execute(text(STANDING_SQL), {"period": str(period)})
    return standing_of_rows(period, rows)
