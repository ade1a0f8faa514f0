"""Two instances (two engines, as two processes would have) firing the same occurrences: one post each."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
import time_machine
from handlers_kit import seed
from schedules_kit import claims, file_report, jobs, posts, when

from schedules.catchup import catch_up
from schedules.context import JobContext
from schedules.jobs import run_job
from storage.db import Database


@pytest.fixture
async def second(database_url: str, db: Database) -> AsyncIterator[Database]:
    """Another engine on the same database: a second instance of the service."""
    other = Database(database_url)
    try:
        yield other
    finally:
        await other.close()


async def fire_both(one: JobContext, two: JobContext, job: str, at: datetime) -> list[str]:
    outcomes = await asyncio.gather(run_job(one, job, at, late=False), run_job(two, job, at, late=False))
    return sorted(outcome.status for outcome in outcomes)


async def test_two_instances_post_every_november_occurrence_once(db: Database, second: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 19, 10))
    one, two = jobs(db, instance="one"), jobs(second, instance="two")
    occurrences = [o for o in one.env.planner.occurrences(date(2026, 11, 1), date(2026, 12, 1)) if not o.skipped]
    assert len(occurrences) == 13
    with time_machine.travel(when(2026, 12, 1, 9), tick=False):
        results = await asyncio.gather(*(fire_both(one, two, o.job, o.at) for o in occurrences))
    assert results == [["posted", "taken"]] * 13
    rows = await posts(db)
    assert len(rows) == 13  # each occurrence posts to one group
    assert max(Counter(row.dedupe_key for row in rows).values()) == 1
    won = [claim for claim in await claims(db) if claim.job != "scheduler-epoch"]
    assert len(won) == 13
    assert {claim.claimed_by for claim in won} <= {"one", "two"}


async def test_two_instances_starting_together_catch_up_once(db: Database, second: Database) -> None:
    await seed(db)
    one, two = jobs(db, instance="one"), jobs(second, instance="two")
    with time_machine.travel(when(2026, 11, 16, 8), tick=False):
        await catch_up(one)
    # Both down until Tuesday 24 November 11:00, then started at the same moment.
    with time_machine.travel(when(2026, 11, 24, 11), tick=False):
        reports = await asyncio.gather(catch_up(one), catch_up(two))
    # Whether the slower one still saw the reminder unclaimed depends on timing; it never posts it again.
    ran = [outcome.status for report in reports for outcome in report.ran]
    assert [status for status in ran if status != "taken"] == ["posted"]
    missed = sorted((o.job, o.at) for report in reports for o in report.missed)
    assert missed == [("weekly-briefing", when(2026, 11, 16)), ("weekly-briefing", when(2026, 11, 23))]
    assert len(await posts(db, origin="deadline-reminder")) == 1
    told = "".join(str(row.message["body"]) for row in await posts(db, origin="catch-up"))
    assert told.count("11月16日（周一）09:00　每周工作通报") == 1
    assert told.count("11月23日（周一）09:00　每周工作通报") == 1
    statuses = Counter(claim.status for claim in await claims(db) if claim.job != "scheduler-epoch")
    assert statuses == Counter({"missed": 2, "coalesced": 2, "posted": 1})
