"""A period's 台账 (ledger) and unit look-ups, shared by the chat commands and the command line."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Submission, Unit
from storage.periods import Period
from storage.standing import PeriodStanding, UnitStanding, period_standing


@dataclass(frozen=True)
class LedgerRow:
    """One unit's line in the ledger: its standing and the text of its latest version."""

    standing: UnitStanding
    latest_text: str = ""
    latest_attachments: int = 0

    @property
    def unit_name(self) -> str:
        return self.standing.unit_name


@dataclass(frozen=True)
class Ledger:
    standing: PeriodStanding
    rows: list[LedgerRow]

    @property
    def period(self) -> Period:
        return self.standing.period


async def period_ledger(session: AsyncSession, period: Period) -> Ledger:
    """Every active unit's standing for ``period`` with its latest version's text (two queries in all)."""
    standing = await period_standing(session, period)
    latest_versions = (
        select(Submission.unit_id, func.max(Submission.version).label("version"))
        .where(Submission.period == str(period))
        .group_by(Submission.unit_id)
        .subquery()
    )
    latest = await session.execute(
        select(Submission.unit_id, Submission.text, Submission.attachments).join(
            latest_versions,
            (Submission.unit_id == latest_versions.c.unit_id)
            & (Submission.version == latest_versions.c.version)
            & (Submission.period == str(period)),
        )
    )
    texts: dict[int, tuple[str, list[Any]]] = {row.unit_id: (row.text, row.attachments or []) for row in latest}
    rows = []
    for unit in standing.units:
        text, attachments = texts.get(unit.unit_id, ("", []))
        rows.append(LedgerRow(standing=unit, latest_text=text, latest_attachments=len(attachments)))
    return Ledger(standing=standing, rows=rows)


def fold(text: str) -> str:
    """Names compared without width, case or spaces: ``省 商务厅`` and ``省商务厅`` are the same unit."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


async def find_units(session: AsyncSession, query: str) -> list[Unit]:
    """Active units named ``query``: an exact match if there is one, else every unit whose name contains it."""
    wanted = fold(query)
    if not wanted:
        return []
    units = list(await session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
    exact = [unit for unit in units if fold(unit.name) == wanted]
    if exact:
        return exact
    return [unit for unit in units if wanted in fold(unit.name)]
