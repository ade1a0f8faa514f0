"""Never silently missed: catch-up after an outage, the one-time calendar notice, the scheduler in a service."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed
from schedules_kit import claims, file_report, jobs, posts, when, with_settings

from bot import scheduler as scheduler_module
from bot.config import GroupConfig, Settings
from bot.context import AppContext
from bot.scheduler import JobScheduler, scheduler_worker
from schedules import catchup as catchup_module
from schedules.catchup import catch_up, notify_missing_calendar
from schedules.context import JobContext
from schedules.jobs import JobOutcome, run_job
from storage.db import Database
from storage.models import Group
from storage.outbound import OutboundMessage


async def start_service(ctx: JobContext, at: datetime) -> None:
    """The service starts at ``at`` (its first catch-up records the scheduler's epoch)."""
    with time_machine.travel(at, tick=False):
        await catch_up(ctx)


async def fire(ctx: JobContext, job: str, at: datetime) -> JobOutcome:
    with time_machine.travel(at, tick=False):
        return await run_job(ctx, job, at, late=False)


async def test_three_day_outage_catches_up_within_the_grace_and_reports_the_rest(db: Database) -> None:
    roster = await seed(db)
    ctx = jobs(db)
    await start_service(ctx, when(2026, 11, 16, 8))
    await fire(ctx, "weekly-briefing", when(2026, 11, 16))
    await fire(ctx, "deadline-reminder", when(2026, 11, 18, 9, 30))
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20, 17))
    # Down from Saturday 21 November until Tuesday 24 November 11:00.
    seen = len(await posts(db))
    with time_machine.travel(when(2026, 11, 24, 11), tick=False):
        report = await catch_up(ctx)
    ran = [(outcome.job, outcome.occurrence, outcome.status, outcome.late) for outcome in report.ran]
    assert ran == [("deadline-reminder", when(2026, 11, 24, 9, 30), "posted", True)]
    assert [(o.job, o.at) for o in report.coalesced] == [("deadline-reminder", when(2026, 11, 23, 9, 30))]
    assert [(o.job, o.at) for o in report.missed] == [("weekly-briefing", when(2026, 11, 23))]
    assert report.told == [OFFICE_GROUP]

    reminder, notice = (await posts(db))[seen:]
    message = OutboundMessage.model_validate(reminder.message)
    assert reminder.target == MEMBER_GROUP
    assert message.late_post is True  # rendered with 【补发】
    assert "省商务厅" not in message.body  # reported on Friday
    assert "截至11月24日（周二）11:00" in message.body
    assert notice.target == OFFICE_GROUP
    assert notice.message["title"] == "定时任务未按时执行"
    assert "超过补发时限（6小时）" in notice.message["body"]
    assert "- 11月23日（周一）09:00　每周工作通报" in notice.message["body"]
    assert "催报提醒" not in notice.message["body"]

    statuses = {(c.job, c.occurrence.astimezone(when(2026, 1, 1).tzinfo)): c.status for c in await claims(db)}
    assert statuses[("weekly-briefing", when(2026, 11, 23))] == "missed"
    assert statuses[("deadline-reminder", when(2026, 11, 23, 9, 30))] == "coalesced"
    assert statuses[("deadline-reminder", when(2026, 11, 24, 9, 30))] == "posted"

    # Restarting again (or a second instance starting) repeats nothing.
    with time_machine.travel(when(2026, 11, 24, 11, 5), tick=False):
        again = await catch_up(jobs(db, instance="second"))
    assert (again.ran, again.coalesced, again.missed) == ([], [], [])
    assert len(await posts(db)) == seen + 2


async def test_a_reminder_whose_deadline_passed_is_dropped_on_catch_up(db: Database) -> None:
    await seed(db)
    ctx = with_settings(jobs(db), catchup_grace_hours=12)
    await start_service(ctx, when(2026, 11, 25, 8))
    await fire(ctx, "deadline-reminder", when(2026, 11, 25, 9, 30))
    with time_machine.travel(when(2026, 11, 26, 1), tick=False):  # down from 14:00 to 01:00
        report = await catch_up(ctx)
    assert [(o.job, o.status) for o in report.ran] == [("deadline-reminder", "dropped")]
    assert [row.origin for row in await posts(db)] == ["deadline-reminder"]  # only the 09:30 one


async def test_catch_up_within_the_grace_posts_the_briefing_marked_late(db: Database) -> None:
    await seed(db)
    ctx = jobs(db)
    await start_service(ctx, when(2026, 11, 20, 8))
    with time_machine.travel(when(2026, 11, 23, 14, 30), tick=False):
        report = await catch_up(ctx)
    assert [(o.job, o.late) for o in report.ran] == [("weekly-briefing", True), ("deadline-reminder", True)]
    briefing = OutboundMessage.model_validate((await posts(db, origin="weekly-briefing"))[0].message)
    assert briefing.late_post
    assert "（本通报原定于11月23日（周一）09:00发送，因服务中断补发。）" in briefing.body


async def test_a_fresh_installation_misses_nothing(db: Database) -> None:
    await seed(db)
    with time_machine.travel(when(2026, 11, 24, 11), tick=False):
        report = await catch_up(jobs(db))
    assert (report.ran, report.missed) == ([], [])
    assert await posts(db) == []
    assert [claim.job for claim in await claims(db)] == ["scheduler-epoch"]


async def test_missed_occurrences_without_an_office_group_are_logged(db: Database) -> None:
    roster = await seed(db)
    async with db.transaction() as session:
        group = await session.get(Group, roster.office_group.id)
        assert group is not None
        group.active = False
    ctx = jobs(db)
    await start_service(ctx, when(2026, 11, 2, 8))
    with time_machine.travel(when(2026, 11, 4, 12), tick=False):
        report = await catch_up(ctx)
    assert [o.job for o in report.missed] == ["weekly-briefing", "monthly-circular"]
    assert report.told == []
    assert await posts(db) == []


# ---- the 2027 calendar notice ----


async def test_the_office_is_told_once_that_next_years_calendar_is_missing(db: Database) -> None:
    await seed(db)
    ctx = jobs(db)
    with time_machine.travel(when(2026, 11, 10), tick=False):
        assert await notify_missing_calendar(ctx) == []  # 2027 is more than 45 days away
    with time_machine.travel(when(2026, 11, 20), tick=False):
        assert await notify_missing_calendar(ctx) == [2027]
        assert await notify_missing_calendar(ctx) == []
        assert await notify_missing_calendar(jobs(db, instance="other")) == []
    (row,) = await posts(db)
    assert (row.target, row.origin, row.dedupe_key) == (
        OFFICE_GROUP,
        "calendar-missing",
        f"calendar-missing:2027:{OFFICE_GROUP}",
    )
    assert row.message["title"] == "2027年节假日安排未收录"
    assert "pip install -U chinesecalendar" in row.message["body"]
    assert "extra_workdays" in row.message["body"]


async def test_the_calendar_notice_waits_for_an_office_group(db: Database) -> None:
    ctx = jobs(db)
    with time_machine.travel(when(2026, 12, 1), tick=False):
        assert await notify_missing_calendar(ctx) == []
    async with db.transaction() as session:
        session.add(Group(name=OFFICE_GROUP, platform="sandbox", is_office=True))
    with time_machine.travel(when(2026, 12, 2), tick=False):
        assert await notify_missing_calendar(ctx) == [2027]


async def test_the_scheduler_checks_the_calendar_at_nine_on_working_days(db: Database) -> None:
    await seed(db)
    scheduler = JobScheduler(jobs(db))
    with time_machine.travel(when(2026, 11, 22), tick=False):  # a Sunday
        await scheduler._check_calendar()
    assert await posts(db) == []
    with time_machine.travel(when(2026, 11, 23), tick=False):
        await scheduler._check_calendar()
        await scheduler._check_calendar()
    assert [row.origin for row in await posts(db)] == ["calendar-missing"]


# ---- the scheduler itself ----


async def test_the_scheduler_fires_a_due_occurrence_through_apscheduler(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    ctx = jobs(db)
    fired = asyncio.Event()
    real = scheduler_module.run_job

    async def observed(job_ctx: JobContext, job: str, at: datetime, *, late: bool = False) -> JobOutcome:
        outcome = await real(job_ctx, job, at, late=late)
        if job == "weekly-briefing":
            fired.set()
        return outcome

    monkeypatch.setattr(scheduler_module, "run_job", observed)
    with time_machine.travel(when(2026, 11, 23, 8, 59) + timedelta(seconds=59.5), tick=True):
        scheduler = JobScheduler(ctx)
        await scheduler.start()
        try:
            await asyncio.wait_for(fired.wait(), timeout=30)
            planned = {job.id for job in scheduler.scheduler.get_jobs()}
        finally:
            await scheduler.stop()
    (row,) = await posts(db, origin="weekly-briefing")
    assert row.message["late_post"] is False
    assert "deadline-reminder:2026-11-23T09:30:00+08:00" in planned
    assert "overdue-notice:2026-11-26T09:00:00+08:00" not in planned  # beyond the 3-day horizon
    assert {"replan", "calendar-check"} <= planned


async def test_a_late_fire_is_marked_and_a_failed_one_is_retried(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    scheduler = JobScheduler(jobs(db))
    with time_machine.travel(when(2026, 11, 23, 9, 20), tick=False):
        await scheduler._fire("weekly-briefing", when(2026, 11, 23))
    assert (await posts(db))[0].message["late_post"] is True

    async def broken(*_args: object, **_kwargs: object) -> JobOutcome:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(scheduler_module, "run_job", broken)
    with time_machine.travel(when(2026, 12, 1, 9), tick=False):
        await scheduler._fire("monthly-circular", when(2026, 12, 1))
    (retry,) = [job for job in scheduler.scheduler.get_jobs() if job.id.startswith("retry:")]
    assert retry.args == ("monthly-circular", when(2026, 12, 1))
    assert retry.trigger.run_date.astimezone(UTC) == when(2026, 12, 1, 9, 5).astimezone(UTC)
    with time_machine.travel(when(2026, 12, 1, 16), tick=False):  # beyond the grace: left to the catch-up
        await scheduler._fire("monthly-circular", when(2026, 12, 1))
    assert len([job for job in scheduler.scheduler.get_jobs() if job.id.startswith("retry:")]) == 1


async def test_scheduler_worker_starts_catches_up_and_stops(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(db)
    settings = Settings(
        groups=[
            GroupConfig(name=MEMBER_GROUP, platform="sandbox"),
            GroupConfig(name=OFFICE_GROUP, platform="sandbox", office=True),
        ]
    )
    app = AppContext(settings=settings, db=db, instance_id="worker")
    await start_service(jobs(db), when(2026, 11, 20, 8))
    caught_up = asyncio.Event()
    real = catchup_module.run_job

    async def observed(job_ctx: JobContext, job: str, at: datetime, *, late: bool = False) -> JobOutcome:
        outcome = await real(job_ctx, job, at, late=late)
        if job == "deadline-reminder":
            caught_up.set()  # the last of the catch-up's runs
        return outcome

    monkeypatch.setattr(catchup_module, "run_job", observed)
    stopping = asyncio.Event()
    with time_machine.travel(when(2026, 11, 23, 10), tick=True):
        task = asyncio.create_task(scheduler_worker(app, stopping))
        await asyncio.wait_for(caught_up.wait(), timeout=30)
        stopping.set()
        await asyncio.wait_for(task, timeout=30)
    (claim,) = await claims(db, "weekly-briefing")
    assert (claim.claimed_by, claim.status) == ("worker", "posted")
    assert (await posts(db, origin="weekly-briefing"))[0].message["late_post"] is True
    assert await posts(db, origin="calendar-missing") == []  # told at 09:00 on a working day, not at start-up
