"""The reporting matrix: every active unit against a run of months, each cell on time, late, missing or not due.

One grouped query over the submissions of the months shown; the statuses are decided in Python against each
period's deadline (500 units × 24 months is 12,000 cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import GroupMember, Person, Submission, Unit
from storage.monthly_round import deadlines_of
from storage.periods import DeadlineRule, Period

ON_TIME, LATE, MISSING, NOT_DUE = "on_time", "late", "missing", "not_due"
LABELS = {ON_TIME: "按时", LATE: "逾期", MISSING: "未报", NOT_DUE: "未到期"}


@dataclass(frozen=True)
class MatrixRow:
    unit_id: int
    name: str
    division: str
    cells: list[str]  # one status per period, in the order asked

    def count(self, status: str) -> int:
        return self.cells.count(status)


def months_ending(last: Period, count: int) -> list[Period]:
    """``count`` consecutive periods ending with ``last``, oldest first."""
    periods = [last]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


async def report_matrix(
    session: AsyncSession,
    periods: list[Period],
    deadline: DeadlineRule,
    now: datetime,
    *,
    group_id: int | None = None,
    unit_id: int | None = None,
) -> list[MatrixRow]:
    """The matrix of active units (only those with someone in ``group_id``, or only ``unit_id``) over ``periods``.

    A month whose deadline has not passed is "not due" until the unit reports; a month that ended before the
    unit joined the roster is "not due" too (it owed nothing then).
    """
    units = select(Unit.id, Unit.name, Unit.division, Unit.created_at).where(Unit.active.is_(True))
    if group_id is not None:
        members = select(Person.unit_id).join(GroupMember, GroupMember.person_id == Person.id)
        units = units.where(Unit.id.in_(members.where(GroupMember.group_id == group_id, Person.active.is_(True))))
    if unit_id is not None:
        units = units.where(Unit.id == unit_id)
    # Core execution on the session's connection: the ORM's result machinery costs more than the query here.
    connection = await session.connection()
    unit_rows = (await connection.execute(units.order_by(Unit.id))).all()
    names = [str(period) for period in periods]
    reported = select(
        Submission.unit_id,
        Submission.period,
        func.max(Submission.on_time.cast(type_=Submission.version.type)),
    ).where(Submission.period.in_(names))
    if unit_id is not None:
        reported = reported.where(Submission.unit_id == unit_id)
    found: dict[tuple[int, str], bool] = {
        (unit, period): bool(on_time)
        for unit, period, on_time in await connection.execute(reported.group_by(Submission.unit_id, Submission.period))
    }
    deadlines = await deadlines_of(session, deadline, periods)  # the office's extensions (截止 #N) included
    rows = []
    for unit, name, division, created_at in unit_rows:
        cells = []
        for period, due in zip(names, deadlines, strict=True):
            on_time = found.get((unit, period))
            if on_time is not None:
                cells.append(ON_TIME if on_time else LATE)
            elif due >= now or due < created_at:
                cells.append(NOT_DUE)
            else:
                cells.append(MISSING)
        rows.append(MatrixRow(unit, name, division, cells))
    return rows
