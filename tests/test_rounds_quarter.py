"""A simulated quarter (October–December 2026) with three instances (three engines, as three processes would
have) firing every occurrence together: the monthly cycle, the weekly briefing, the quarterly round, two ad-hoc
collections opened by chat and the round reminders — each occurrence posted once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
import time_machine
from handlers_kit import local, say, seed
from schedules_kit import claims, jobs, posts
from sqlalchemy import select

from schedules.jobs import run_job
from schedules.kinds.round_reminder import RoundReminderSettings
from schedules.periodic_rounds import PeriodicRoundSettings
from storage.db import Database
from storage.models import Round, RoundAnswer

SETTINGS = {"quarterly_round": PeriodicRoundSettings(enabled=True), "round_reminder": RoundReminderSettings()}


@pytest.fixture
async def others(database_url: str, db: Database) -> AsyncIterator[tuple[Database, Database]]:
    two, three = Database(database_url), Database(database_url)
    try:
        yield two, three
    finally:
        await two.close()
        await three.close()


def code_in(reply: str) -> str:
    found = re.search(r"确认 ([A-Z0-9]{4})", reply)
    assert found is not None, reply
    return found[1]


async def test_a_quarter_on_three_instances_posts_each_occurrence_once(
    db: Database, others: tuple[Database, Database]
) -> None:
    roster = await seed(db)
    instances = [jobs(db, instance="one", **SETTINGS)] + [
        jobs(other, instance=name, **SETTINGS) for other, name in zip(others, ("two", "three"), strict=True)
    ]
    planner = instances[0].env.planner
    collections = {
        date(2026, 10, 12): "征集 工作专班联系人 截止 10月23日 字段 姓名、职务、手机 请确定联系人。",
        date(2026, 11, 16): "征集 年度考评材料 截止 11月27日 请报送年度考评材料。",
    }
    day, statuses = date(2026, 10, 1), Counter[str]()
    fired = 0
    while day <= date(2026, 12, 31):
        if day in collections:
            (preview,) = await say(db, roster.office, collections[day], local(day.year, day.month, day.day, 8))
            (posted,) = await say(
                db, roster.office, f"确认 {code_in(preview)}", local(day.year, day.month, day.day, 8, 5)
            )
            number = int(re.findall(r"征集#(\d+)", posted)[0])
            await say(
                db, roster.liaison, f"#{number} 张三 处长 13912345678", local(day.year, day.month, day.day, 8, 30)
            )
        for occurrence in [o for o in planner.occurrences(day, day) if not o.skipped]:
            with time_machine.travel(occurrence.at + timedelta(seconds=30), tick=False):
                outcomes = await asyncio.gather(
                    *(run_job(ctx, occurrence.job, occurrence.at, late=False) for ctx in instances)
                )
            statuses.update(outcome.status for outcome in outcomes)
            assert sorted(outcome.status for outcome in outcomes).count("taken") == 2, occurrence
            fired += 1
        day += timedelta(days=1)

    assert statuses["taken"] == 2 * fired
    rows = await posts(db)
    assert max(Counter(row.dedupe_key for row in rows).values()) == 1  # nothing posted twice
    won = [claim for claim in await claims(db) if claim.job != "scheduler-epoch"]
    assert len(won) == fired and len({(claim.job, claim.occurrence) for claim in won}) == fired
    async with db.sessions() as session:
        opened = list(await session.scalars(select(Round).order_by(Round.id)))
        answered = list(await session.scalars(select(RoundAnswer)))
    asked = [r.kind for r in opened if r.kind != "monthly"]
    assert asked == ["quarterly", "collection", "collection"]  # Q3 opened once, on 10月8日
    monthly = [r.code for r in opened if r.kind == "monthly"]  # the monthly report's rounds, made by the circulars
    assert monthly and len(monthly) == len(set(monthly))  # one per period, whichever instance got there first
    assert len(answered) == 2
    reminders = await posts(db, origin="round-reminder")
    assert reminders  # laggards were chased
    collection_lines = [
        line for row in reminders for line in row.message["body"].splitlines() if "工作专班联系人" in line
    ]
    assert collection_lines  # the collection's laggards were chased …
    assert all("省商务厅" not in line for line in collection_lines)  # … and the unit that answered never was
