"""Claims on job occurrences: whoever inserts the row first runs the occurrence, every other instance skips it.

The insert is ``INSERT … ON CONFLICT DO NOTHING`` on the primary key (job, occurrence): on PostgreSQL a second
transaction inserting the same key waits for the first and then inserts nothing; on SQLite transactions are
serial (``BEGIN IMMEDIATE``). Either way exactly one caller sees its row inserted, and its transaction stays
usable, so the claim and the messages it causes commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JobClaim

# Claim statuses.
CLAIMED = "claimed"  # taken; replaced by the outcome before the transaction commits
POSTED = "posted"  # messages queued
NOTHING = "nothing"  # ran, nothing to say (everyone reported, no target group…)
DROPPED = "dropped"  # a late reminder whose deadline had passed
MISSED = "missed"  # beyond the catch-up grace: the office was told instead
COALESCED = "coalesced"  # a later occurrence of the same job ran in its place
MANUAL = "manual"  # sent early by an office command (周报 发送 / 通报 发送)

# Markers kept in the same table: the first start of the scheduler, and one-time notices.
EPOCH_JOB = "scheduler-epoch"
EPOCH_KEY = datetime(2000, 1, 1, tzinfo=UTC)


async def claim(
    session: AsyncSession,
    job: str,
    occurrence: datetime,
    *,
    by: str,
    now: datetime,
    status: str = CLAIMED,
    note: str = "",
) -> bool:
    """Insert the claim on (``job``, ``occurrence``); ``True`` if this caller won it."""
    values = {
        "job": job,
        "occurrence": occurrence.astimezone(UTC),
        "claimed_at": now,
        "claimed_by": by,
        "status": status,
        "note": note,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(JobClaim).values(**values).on_conflict_do_nothing().returning(JobClaim.job)
    result = await session.execute(statement)
    return result.first() is not None


async def settle(session: AsyncSession, job: str, occurrence: datetime, *, status: str, note: str = "") -> None:
    """Record what the claimed occurrence came to."""
    await session.execute(
        update(JobClaim)
        .where(JobClaim.job == job, JobClaim.occurrence == occurrence.astimezone(UTC))
        .values(status=status, note=note)
        .execution_options(synchronize_session=False)
    )


async def claim_of(session: AsyncSession, job: str, occurrence: datetime) -> JobClaim | None:
    return await session.get(JobClaim, (job, occurrence.astimezone(UTC)))


async def claimed_between(session: AsyncSession, start: datetime, end: datetime) -> set[tuple[str, datetime]]:
    """(job, occurrence in UTC) of every claim on an occurrence in ``[start, end)``."""
    rows = await session.execute(
        select(JobClaim.job, JobClaim.occurrence).where(JobClaim.occurrence >= start, JobClaim.occurrence < end)
    )
    return {(job, occurrence.astimezone(UTC)) for job, occurrence in rows}


async def epoch(session: AsyncSession, *, by: str, now: datetime) -> datetime:
    """When the scheduler first ran on this database (recorded now if never): nothing before it was missed."""
    await claim(session, EPOCH_JOB, EPOCH_KEY, by=by, now=now, status=POSTED, note="定时任务首次启动")
    row = await claim_of(session, EPOCH_JOB, EPOCH_KEY)
    return row.claimed_at if row is not None else now
