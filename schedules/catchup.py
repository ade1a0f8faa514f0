"""Never silently missed: what the scheduler does at start-up (and after each daily re-plan).

Occurrences that came due while no instance was running (no claim row) are run late, marked 补发, if they are
still within the grace (default 6 hours); of several missed occurrences of one job only the latest runs.
Beyond the grace, stale content is not posted: the office is told once which occurrences were missed. A
late reminder whose deadline has already passed is dropped by the job itself.

The office is also told, once per year, when the official holiday schedule of a coming year is missing (the
scheduler checks every working day at 09:00, so the notice arrives in office hours).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from schedules import claims
from schedules.content import target_groups
from schedules.context import JobContext
from schedules.jobs import JobOutcome, run_job
from schedules.kinds import deadline_reminder, overdue_notice
from schedules.occurrences import Occurrence
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.periods import Period

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=15)  # a run later than this after its time is marked 补发
LOOKBACK = timedelta(days=31)  # how far back missed occurrences are looked for
CALENDAR_LOOKAHEAD = timedelta(days=45)  # how early the office hears that next year's schedule is missing
CALENDAR_JOB = "calendar-missing"
MISSED_ORIGIN = "catch-up"


@dataclass
class CatchUp:
    """What a catch-up did."""

    ran: list[JobOutcome] = field(default_factory=list)
    coalesced: list[Occurrence] = field(default_factory=list)
    missed: list[Occurrence] = field(default_factory=list)  # beyond the grace, the office was told
    told: list[str] = field(default_factory=list)  # groups the missed notice went to


def _period_label(occurrence: Occurrence) -> str | None:
    if occurrence.job in (deadline_reminder.JOB.name, overdue_notice.JOB.name):
        return Period.parse(occurrence.subject).label
    return None


async def catch_up(ctx: JobContext, *, now: datetime | None = None) -> CatchUp:
    """Run or report every occurrence missed since the scheduler last ran (at most :data:`LOOKBACK` back)."""
    now = now or ctx.now()
    grace = ctx.settings.catchup_grace
    async with ctx.db.transaction() as session:
        since = await claims.epoch(session, by=ctx.instance_id, now=now)
        start = max(since, now - LOOKBACK)
        taken = await claims.claimed_between(session, start, now)
    missed = [o for o in ctx.env.planner.due(start, now) if (o.job, o.utc) not in taken]
    latest: dict[str, Occurrence] = {}
    for occurrence in missed:  # in time order: the last one of each job wins
        latest[occurrence.job] = occurrence
    to_run = [o for o in latest.values() if now - o.at <= grace]
    running_jobs = {o.job for o in to_run}
    report = CatchUp()
    for occurrence in missed:
        if occurrence in to_run:
            continue
        if occurrence.job in running_jobs:
            report.coalesced.append(occurrence)
        else:
            report.missed.append(occurrence)
    if report.coalesced:
        async with ctx.db.transaction() as session:
            for occurrence in report.coalesced:
                await claims.claim(
                    session,
                    occurrence.job,
                    occurrence.at,
                    by=ctx.instance_id,
                    now=now,
                    status=claims.COALESCED,
                    note="服务恢复后由同一任务的较晚一次补发代替",
                )
    for occurrence in sorted(to_run, key=lambda o: o.at):
        report.ran.append(await run_job(ctx, occurrence.job, occurrence.at, late=now - occurrence.at > LATE_AFTER))
    if report.missed:
        report.missed, report.told = await _tell_missed(ctx, report.missed, now)
    return report


async def _tell_missed(ctx: JobContext, missed: list[Occurrence], now: datetime) -> tuple[list[Occurrence], list[str]]:
    """Claim the missed occurrences and tell the office about those this instance claimed."""
    hours = ctx.settings.catchup_grace.total_seconds() / 3600
    async with ctx.db.transaction() as session:
        won = [
            occurrence
            for occurrence in missed
            if await claims.claim(
                session,
                occurrence.job,
                occurrence.at,
                by=ctx.instance_id,
                now=now,
                status=claims.MISSED,
                note=f"服务未运行，超过补发时限（{hours:g}小时），已告知办公室",
            )
        ]
        if not won:
            return [], []
        groups = await target_groups(session, (), office=True)
        if not groups:
            log.warning("missed %d occurrences while down, but no office group is configured to tell", len(won))
            return won, []
        rendered = ctx.env.templates.render(
            "missed_occurrences",
            grace_hours=f"{hours:g}",
            missed=[{"at": o.at, "title": o.title, "period": _period_label(o)} for o in won],
        )
        message = OutboundMessage(title=rendered.title, body=rendered.body)
        stamp = now.astimezone(ctx.policy.tz).isoformat()
        for group in groups:
            enqueue_to_group(
                session, group, message, origin=MISSED_ORIGIN, dedupe_key=f"{MISSED_ORIGIN}:{stamp}:{group.name}"
            )
    return won, [group.name for group in groups]


def _new_year(year: int, tz: ZoneInfo) -> datetime:
    return datetime(year, 1, 1, tzinfo=tz)


async def notify_missing_calendar(ctx: JobContext, *, now: datetime | None = None) -> list[int]:
    """Tell the office once about each coming year whose official holiday schedule is missing.

    Returns the years told now. Nothing is recorded while no office group is configured, so the notice
    goes out once one is.
    """
    now = now or ctx.now()
    tz = ctx.policy.tz
    today = now.astimezone(tz).date()
    told = []
    for year in ctx.env.calendar.unofficial_years(today, today + CALENDAR_LOOKAHEAD):
        async with ctx.db.transaction() as session:
            groups = await target_groups(session, (), office=True)
            if not groups:
                log.warning("the official holiday schedule of %d is missing and no office group is configured", year)
                continue
            won = await claims.claim(
                session,
                CALENDAR_JOB,
                _new_year(year, tz),
                by=ctx.instance_id,
                now=now,
                status=claims.POSTED,
                note=f"{year}年官方节假日安排未收录，已告知办公室",
            )
            if not won:
                continue
            rendered = ctx.env.templates.render("calendar_missing", year=year)
            message = OutboundMessage(title=rendered.title, body=rendered.body)
            for group in groups:
                enqueue_to_group(
                    session, group, message, origin=CALENDAR_JOB, dedupe_key=f"{CALENDAR_JOB}:{year}:{group.name}"
                )
            told.append(year)
    return told
