"""Writing and reading a unit's report versions for a period.

Every message a liaison sends is a new version; nothing is overwritten. Two liaisons of one unit may report at
the same moment, so a new version number is taken under a lock on the unit's row (PostgreSQL: ``SELECT … FOR
UPDATE``; SQLite: transactions begin ``IMMEDIATE`` and are serial already). The unique constraint on
(unit, period, version) remains the last line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Submission, Unit
from storage.periods import Period


async def lock_unit(session: AsyncSession, unit_id: int) -> None:
    """Serialise version numbering for one unit until the end of the transaction.

    SQLite has no row locks to take (its transactions are serial already): nothing is sent there.
    """
    await lock_units(session, [unit_id])


async def lock_units(session: AsyncSession, unit_ids: Iterable[int]) -> None:
    """:func:`lock_unit` for several units in one statement, taken in id order (as every batch takes them)."""
    if session.get_bind().dialect.name == "sqlite":
        return
    wanted = sorted(set(unit_ids))
    if wanted:
        await session.execute(select(Unit.id).where(Unit.id.in_(wanted)).order_by(Unit.id).with_for_update())


async def latest_version(
    session: AsyncSession, unit_id: int, period: Period, *, lock: bool = False
) -> Submission | None:
    """The unit's latest version for ``period`` (locked for update when ``lock``)."""
    query = (
        select(Submission)
        .where(Submission.unit_id == unit_id, Submission.period == str(period))
        .order_by(Submission.version.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def latest_versions(
    session: AsyncSession, wanted: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], Submission]:
    """:func:`latest_version` for several (unit id, period) pairs in one query, keyed by the pair."""
    pairs = set(wanted)
    if not pairs:
        return {}
    unit_ids = {unit_id for unit_id, _ in pairs}
    periods = {period for _, period in pairs}
    latest = (
        select(Submission.unit_id, Submission.period, func.max(Submission.version).label("version"))
        .where(Submission.unit_id.in_(unit_ids), Submission.period.in_(periods))
        .group_by(Submission.unit_id, Submission.period)
        .subquery()
    )
    rows = await session.scalars(
        select(Submission).join(
            latest,
            (Submission.unit_id == latest.c.unit_id)
            & (Submission.period == latest.c.period)
            & (Submission.version == latest.c.version),
        )
    )
    return {(row.unit_id, row.period): row for row in rows if (row.unit_id, row.period) in pairs}


async def versions(session: AsyncSession, unit_id: int, period: Period) -> list[Submission]:
    """Every version of the unit's report for ``period``, oldest first, with their senders loaded."""
    rows = await session.scalars(
        select(Submission)
        .options(selectinload(Submission.person))
        .where(Submission.unit_id == unit_id, Submission.period == str(period))
        .order_by(Submission.version)
    )
    return list(rows)


async def add_version(
    session: AsyncSession,
    *,
    unit_id: int,
    period: Period,
    round_id: int | None,
    text: str,
    received_at: datetime,
    on_time: bool,
    person_id: int | None,
    inbox_id: int | None,
    is_supplement: bool = False,
    attachments: list[dict[str, Any]] | None = None,
    version: int | None = None,
) -> Submission:
    """Insert the next version (the caller holds :func:`lock_unit`) and flush it; ``round_id`` is the period's
    monthly round (:func:`storage.monthly_round.monthly_round`); ``version`` when the caller has read the latest
    one already, else the next number after the stored ones."""
    if version is None:
        current = await session.scalar(
            select(func.max(Submission.version)).where(Submission.unit_id == unit_id, Submission.period == str(period))
        )
        version = (current or 0) + 1
    row = Submission(
        unit_id=unit_id,
        period=str(period),
        round_id=round_id,
        version=version,
        text=text,
        attachments=attachments or [],
        is_supplement=is_supplement,
        person_id=person_id,
        inbox_id=inbox_id,
        received_at=received_at,
        on_time=on_time,
    )
    session.add(row)
    await session.flush()
    return row
