"""Running one occurrence of a job: claim, compose, write, settle — the one path every caller takes.

The scheduler, the catch-up at start-up, ``duban jobs run`` and the office's ``周报/通报 发送`` all call
:func:`run_job` (or, inside a transaction they already hold, :func:`occur`). The caller that wins the claim
composes the messages and writes them to the outbox in the claim's transaction (dedupe key
``{job}:{occurrence}:{group}``); every other caller does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from schedules import claims
from schedules.compose import Composition
from schedules.context import JobContext, ScheduleEnv
from schedules.drafts import mark_used
from schedules.occurrences import occurrence_key
from schedules.registry import job_named
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


@dataclass(frozen=True)
class Manual:
    """An occurrence the office sends early by chat: the claim records who, and stays ``manual`` once posted."""

    by: str
    note: str


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


_CLAIM_STATUS = {"posted": claims.POSTED, "nothing": claims.NOTHING, "dropped": claims.DROPPED}


async def occur(
    session: AsyncSession,
    env: ScheduleEnv,
    job: str,
    occurrence: datetime,
    *,
    by: str,
    now: datetime,
    late: bool = False,
    manual: Manual | None = None,
) -> JobOutcome:
    """Claim ``occurrence`` of ``job`` in ``session``'s transaction and, if won, compose, write and settle it.

    A scheduled message speaks for its occurrence ("截至11月24日09:30"); a late or manual one for ``now``.
    """
    declared = job_named(job)
    status = claims.MANUAL if manual else claims.CLAIMED
    won = await claims.claim(
        session, job, occurrence, by=by, now=now, status=status, note=manual.note if manual else ""
    )
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
    speaks_for = now if late or manual else occurrence
    composition = await declared.compose(session, env, occurrence, late=late, now=speaks_for)
    await write(session, env, job, occurrence, composition)
    outcome = _status(composition)
    note = ("补发；" if late and outcome == "posted" else "") + composition.note
    if manual is None or outcome != "posted":
        await claims.settle(session, job, occurrence, status=_CLAIM_STATUS[outcome], note=note)
    groups = tuple(delivery.group.name for delivery in composition.deliveries)
    return JobOutcome(job, occurrence, outcome, groups, note, late, claimed_by=by, claimed_at=now)


async def run_job(ctx: JobContext, job: str, occurrence: datetime, *, late: bool = False) -> JobOutcome:
    """Claim ``occurrence`` of ``job`` and, if this caller won, compose and queue its messages (own transaction)."""
    job_named(job)  # an unknown name is refused before anything is opened
    async with ctx.db.transaction() as session:
        return await occur(session, ctx.env, job, occurrence, by=ctx.instance_id, now=ctx.now(), late=late)


async def preview(ctx: JobContext, job: str, occurrence: datetime) -> Composition:
    """What ``job`` would post at ``occurrence``; nothing is claimed or written (the session closes uncommitted)."""
    async with ctx.db.sessions() as session:
        return await job_named(job).compose(session, ctx.env, occurrence, late=False, now=occurrence)
