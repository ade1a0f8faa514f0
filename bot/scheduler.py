"""The timed jobs in a running service: APScheduler 3.11, in process, with no shared job store.

Each instance builds the same schedule from the configuration: one ``DateTrigger`` per occurrence the
:class:`schedules.occurrences.Planner` computes over the next days (the very list ``duban jobs list`` shows),
re-planned every night. Running several instances is safe because every job claims its occurrence in the
database first. Traps avoided (DESIGN.md): the zone is always passed, and ``misfire_grace_time`` is set
explicitly (the default of 1 s silently drops a run the event loop was late for).

This is the only module that imports APScheduler.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot import metrics
from bot.context import AppContext
from schedules.catchup import LATE_AFTER, catch_up, notify_missing_calendar
from schedules.context import JobContext
from schedules.jobs import run_job
from schedules.occurrences import Occurrence
from storage.db import Database
from storage.policy import Policy

log = logging.getLogger(__name__)

HORIZON = timedelta(days=3)  # occurrences planned ahead; the nightly re-plan extends it
REPLAN_HOUR, REPLAN_MINUTE = 0, 5
RETRY_AFTER = timedelta(minutes=5)  # a run that failed (database down…) is retried while within the grace
REPLAN_JOB_ID = "replan"
CALENDAR_CHECK_HOUR = 9  # the office hears about a missing holiday schedule in office hours, on a working day
CALENDAR_JOB_ID = "calendar-check"


def job_context(policy: Policy, db: Database, instance_id: str) -> JobContext:
    return JobContext.create(db, policy, instance_id)


class JobScheduler:
    """One instance's APScheduler, fed by the planner, and the catch-up that precedes it."""

    def __init__(self, jobs: JobContext) -> None:
        self.jobs = jobs
        self.grace = jobs.settings.catchup_grace
        # Within the grace APScheduler still runs a job the loop was late for; beyond it the catch-up tells the office.
        self.misfire_grace_seconds = max(60, int(self.grace.total_seconds()))
        self.scheduler = AsyncIOScheduler(
            timezone=jobs.policy.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.misfire_grace_seconds},
        )
        self._running: set[asyncio.Task[None]] = set()

    def plan(self, now: datetime) -> list[Occurrence]:
        """Add a trigger for every occurrence due from ``now`` to ``now + HORIZON`` (existing ones are replaced)."""
        planned = self.jobs.env.planner.due(now, now + HORIZON)
        for occurrence in planned:
            self.scheduler.add_job(
                self._fire,
                DateTrigger(run_date=occurrence.at, timezone=self.jobs.policy.tz),
                args=(occurrence.job, occurrence.at),
                id=occurrence.key,
                name=f"{occurrence.title} {occurrence.at:%Y-%m-%d %H:%M}",
                replace_existing=True,
                misfire_grace_time=self.misfire_grace_seconds,
                coalesce=True,
            )
        return planned

    async def start(self) -> None:
        now = self.jobs.now()  # one moment: the catch-up covers what came before it, the plan what follows
        await self._catch_up(now)
        self.plan(now)
        self.scheduler.add_job(
            self._replan,
            CronTrigger(hour=REPLAN_HOUR, minute=REPLAN_MINUTE, timezone=self.jobs.policy.tz),
            id=REPLAN_JOB_ID,
            replace_existing=True,
            misfire_grace_time=self.misfire_grace_seconds,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._check_calendar,
            CronTrigger(hour=CALENDAR_CHECK_HOUR, timezone=self.jobs.policy.tz),
            id=CALENDAR_JOB_ID,
            replace_existing=True,
            misfire_grace_time=self.misfire_grace_seconds,
            coalesce=True,
        )
        self.scheduler.start()
        log.info("scheduler started: %d occurrences planned", len(self.scheduler.get_jobs()) - 2)

    async def stop(self) -> None:
        """Let running jobs finish (their claims and messages commit together), then shut down."""
        if self.scheduler.running:
            self.scheduler.pause()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _catch_up(self, now: datetime) -> None:
        try:
            report = await catch_up(self.jobs, now=now)
        except Exception:
            log.exception("catch-up failed; it is tried again at the nightly re-plan")
            return
        for outcome in report.ran:
            log.info("caught up %s %s: %s", outcome.job, outcome.occurrence.isoformat(), outcome.status)
            metrics.record_job_run(outcome.job, "caught_up")
        for occurrence in report.missed:
            metrics.record_job_run(occurrence.job, "missed")
        if report.missed:
            log.warning("%d occurrences were missed beyond the grace; office told: %s", len(report.missed), report.told)

    async def _check_calendar(self) -> None:
        now = self.jobs.now()
        if not self.jobs.env.calendar.is_workday(now.astimezone(self.jobs.policy.tz).date()):
            return
        try:
            told = await notify_missing_calendar(self.jobs, now=now)
        except Exception:
            log.exception("the holiday schedule check failed; it runs again tomorrow")
            return
        if told:
            log.warning("official holiday schedule missing for %s; the office was told", told)

    async def _replan(self) -> None:
        now = self.jobs.now()
        await self._catch_up(now)
        self.plan(now)

    async def _fire(self, job: str, at: datetime) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            now = self.jobs.now()
            outcome = await run_job(self.jobs, job, at, late=now - at > LATE_AFTER)
            log.info("%s %s: %s %s", job, at.isoformat(), outcome.status, outcome.note)
            if outcome.status == "taken":
                metrics.record_claim_lost(job)
            else:
                metrics.record_job_run(job, outcome.status)
        except Exception:
            log.exception("%s %s failed", job, at.isoformat())
            metrics.record_job_run(job, "failed")
            self._retry(job, at)
        finally:
            if task is not None:
                self._running.discard(task)

    def _retry(self, job: str, at: datetime) -> None:
        retry_at = datetime.now(UTC) + RETRY_AFTER
        if retry_at - at > self.grace:
            log.error("%s %s is not retried: beyond the grace; the next catch-up tells the office", job, at.isoformat())
            return
        self.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=retry_at, timezone=self.jobs.policy.tz),
            args=(job, at),
            id=f"retry:{job}:{at.isoformat()}",
            replace_existing=True,
            misfire_grace_time=self.misfire_grace_seconds,
        )


async def scheduler_worker(ctx: AppContext, stopping: asyncio.Event) -> None:
    """The worker the service runs: catch up, plan, fire until asked to stop."""
    scheduler = JobScheduler(job_context(ctx.policy, ctx.db, ctx.instance_id))
    await scheduler.start()
    try:
        await stopping.wait()
    finally:
        await scheduler.stop()
