"""The four timed jobs, each a plain async function of a context and an occurrence time.

``run_weekly_briefing(ctx, occurrence, late=False)`` and its siblings claim the occurrence first; the one
caller that wins composes the messages and writes them to the outbox in the claim's transaction (dedupe key
``{job}:{occurrence}:{group}``), every other caller does nothing. Tests, the scheduler, the catch-up at
start-up and ``duban jobs run`` all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from schedules import claims
from schedules.compose import COMPOSERS, Composition
from schedules.context import JobContext, ScheduleEnv
from schedules.drafts import mark_used
from schedules.occurrences import occurrence_key
from schedules.settings import (
    DEADLINE_REMINDER,
    ITEM_REMINDER,
    JOB_NAMES,
    MONTHLY_CIRCULAR,
    OVERDUE_NOTICE,
    WEEKLY_BRIEFING,
)
from storage.outbound import enqueue_to_group

Status = Literal["posted", "nothing", "dropped", "taken"]


@dataclass(frozen=True)
class JobOutcome:
    """What one call did. ``taken``: another instance (or an earlier run) holds the claim; nothing was done."""

    job: str
    occurrence: datetime
    status: Status
    groups: tuple[str, ...] = ()
    note: str = ""
    late: bool = False
    claimed_by: str = ""
    claimed_at: datetime | None = None


def dedupe_key(job: str, occurrence: datetime, group_name: str) -> str:
    return f"{occurrence_key(job, occurrence)}:{group_name}"


async def write(
    session: AsyncSession,
    env: ScheduleEnv,
    job: str,
    occurrence: datetime,
    composition: Composition,
) -> None:
    """Queue the composed messages and hand the drafts to this occurrence (inside the claim's transaction)."""
    local = occurrence.astimezone(env.policy.tz)
    for delivery in composition.deliveries:
        enqueue_to_group(
            session,
            delivery.group,
            delivery.message,
            origin=job,
            dedupe_key=dedupe_key(job, local, delivery.group.name),
        )
    await mark_used(session, composition.drafts, occurrence_key(job, local))


def _status(composition: Composition) -> Status:
    if composition.dropped:
        return "dropped"
    return "posted" if composition.deliveries else "nothing"


async def run_job(ctx: JobContext, job: str, occurrence: datetime, *, late: bool) -> JobOutcome:
    """Claim ``occurrence`` of ``job`` and, if this caller won, compose and queue its messages."""
    if job not in COMPOSERS:
        raise KeyError(f"没有名为 {job} 的定时任务（可选：{'、'.join(JOB_NAMES)}）")
    now = ctx.now()
    async with ctx.db.transaction() as session:
        won = await claims.claim(session, job, occurrence, by=ctx.instance_id, now=now)
        if not won:
            held = await claims.claim_of(session, job, occurrence)
            return JobOutcome(
                job,
                occurrence,
                "taken",
                note=held.note if held else "",
                claimed_by=held.claimed_by if held else "",
                claimed_at=held.claimed_at if held else None,
            )
        # A message speaks for its occurrence ("截至11月24日09:30"); a late one for the moment it is finally sent.
        composition = await COMPOSERS[job](session, ctx.env, occurrence, late=late, now=now if late else occurrence)
        await write(session, ctx.env, job, occurrence, composition)
        status = _status(composition)
        claim_status = {"posted": claims.POSTED, "nothing": claims.NOTHING, "dropped": claims.DROPPED}[status]
        note = ("补发；" if late and status == "posted" else "") + composition.note
        await claims.settle(session, job, occurrence, status=claim_status, note=note)
    return JobOutcome(
        job,
        occurrence,
        status,
        groups=tuple(delivery.group.name for delivery in composition.deliveries),
        note=note,
        late=late,
        claimed_by=ctx.instance_id,
        claimed_at=now,
    )


async def preview(ctx: JobContext, job: str, occurrence: datetime) -> Composition:
    """What ``job`` would post at ``occurrence``; nothing is claimed or written (the session closes uncommitted)."""
    async with ctx.db.sessions() as session:
        return await COMPOSERS[job](session, ctx.env, occurrence, late=False, now=occurrence)


async def run_weekly_briefing(ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    return await run_job(ctx, WEEKLY_BRIEFING, occurrence, late=late)


async def run_monthly_circular(ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    return await run_job(ctx, MONTHLY_CIRCULAR, occurrence, late=late)


async def run_deadline_reminder(ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    return await run_job(ctx, DEADLINE_REMINDER, occurrence, late=late)


async def run_overdue_notice(ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    return await run_job(ctx, OVERDUE_NOTICE, occurrence, late=late)


async def run_item_reminder(ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    return await run_job(ctx, ITEM_REMINDER, occurrence, late=late)


class JobFunction(Protocol):
    async def __call__(self, ctx: JobContext, occurrence: datetime, *, late: bool = False) -> JobOutcome: ...


JOBS: dict[str, JobFunction] = {
    WEEKLY_BRIEFING: run_weekly_briefing,
    MONTHLY_CIRCULAR: run_monthly_circular,
    DEADLINE_REMINDER: run_deadline_reminder,
    OVERDUE_NOTICE: run_overdue_notice,
    ITEM_REMINDER: run_item_reminder,
}
