"""The monthly report as the built-in monthly round: one ``round`` row per period, made on demand.

Each period (``2026-10``) has its round of kind ``monthly`` (code ``M2026-10``, unique), numbered like any other
round, so that ``统计 #N``, ``截止 #N 日期``, ``结束 #N`` and ``duban export --round N`` work for it; its reports
stay ``submission`` rows, linked to it by ``round_id``. The row is made the first time anything needs it (a
report, ``统计``, a reminder, the circular) and is unique per period, so two instances making it at once end up
with the one row.

Its deadline follows the office's rule (``[reporting]`` day and time, and the deadline policy) until the office
moves it (``extended_at`` set); after ``结束 #N`` every report is kept and marked late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Round, utcnow
from storage.periods import DeadlineRule, Period
from storage.rounds import CLOSED, MONTHLY, OPEN


def code_of(period: Period) -> str:
    return f"M{period}"


def period_of(round_: Round) -> Period:
    """The period a monthly round collects (its code without the ``M``)."""
    return Period.parse(round_.code[1:])


def title_of(period: Period) -> str:
    return f"{period.label}工作进展"


async def find_monthly_round(session: AsyncSession, period: Period) -> Round | None:
    found: Round | None = await session.scalar(select(Round).where(Round.code == code_of(period)))
    return found


async def monthly_round(session: AsyncSession, rule: DeadlineRule, period: Period) -> Round:
    """``period``'s round, made if it is not there yet; its deadline brought in line with ``rule`` unless extended."""
    found = await find_monthly_round(session, period)
    if found is None:
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(Round)
            .values(
                kind=MONTHLY,
                title=title_of(period),
                instructions="",
                fields=[],
                group="",
                deadline=rule.deadline(period),
                state=OPEN,
                code=code_of(period),
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )
        found = await find_monthly_round(session, period)
        assert found is not None  # inserted just now, or by another transaction that got there first
    elif found.extended_at is None and found.deadline != (due := rule.deadline(period)):
        found.deadline = due  # the office changed the rule (deadline day, time or policy) since it was made
    return found


def effective_deadline(round_: Round | None, rule: DeadlineRule, period: Period) -> datetime:
    """The period's deadline: the office's extension when there is one, else the rule's."""
    if round_ is not None and round_.extended_at is not None:
        return round_.deadline
    return rule.deadline(period)


async def deadline_of(session: AsyncSession, rule: DeadlineRule, period: Period) -> datetime:
    """``period``'s deadline, read without making its round."""
    return effective_deadline(await find_monthly_round(session, period), rule, period)


async def deadlines_of(session: AsyncSession, rule: DeadlineRule, periods: Sequence[Period]) -> list[datetime]:
    """The deadlines of ``periods`` (in their order), in one query for the extended ones."""
    codes = [code_of(period) for period in periods]
    rows = await session.execute(
        select(Round.code, Round.deadline).where(Round.code.in_(codes), Round.extended_at.is_not(None))
    )
    extended = {code: deadline for code, deadline in rows}
    return [extended.get(code, rule.deadline(period)) for code, period in zip(codes, periods, strict=True)]


def is_on_time(round_: Round, received_at: datetime) -> bool:
    """By the deadline and before any close; whole seconds decide (23:59:59.6 is still within 23:59:59)."""
    return round_.state != CLOSED and received_at.replace(microsecond=0) <= round_.deadline
