"""定时任务 in the console: each past occurrence ran, was caught up, was missed, or did not run — from the claims."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from console_kit import console_settings, csrf_of, link_token, seed_office

from bot.app import create_app
from bot.policy import policy_from_settings
from schedules import claims
from schedules.context import ScheduleEnv
from storage.db import Database
from storage.models import utcnow


async def test_the_plan_shows_what_became_of_each_past_occurrence(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    settings = console_settings(db.url)
    policy = policy_from_settings(settings)
    now = utcnow()
    today = now.astimezone(policy.tz).date()
    past = [
        o
        for o in ScheduleEnv.of(policy).planner.occurrences(today - timedelta(days=14), today, jobs=["item-reminder"])
        if o.at < now and not o.skipped
    ]
    on_time, caught_up, missed, not_run = past[-4:]
    async with db.transaction() as session:
        await claims.claim(session, claims.EPOCH_JOB, claims.EPOCH_KEY, by="t", now=now - timedelta(days=30))
        await claims.claim(session, "item-reminder", on_time.at, by="a", now=on_time.utc, status=claims.POSTED)
        late = caught_up.utc + timedelta(hours=2)
        await claims.claim(
            session, "item-reminder", caught_up.at, by="b", now=late, status=claims.POSTED, note="补发；"
        )
        await claims.claim(session, "item-reminder", missed.at, by="c", now=now, status=claims.MISSED)
    client = await aiohttp_client(create_app(settings, db=db))
    token = await link_token(db, office.roster.office)
    await client.post("/console/login", data={"token": token})
    page = await (await client.get("/console/jobs?job=item-reminder")).text()
    csrf_of(page)

    def fate(occurrence: Any) -> str:
        stamp = occurrence.at.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M")
        row = re.search(rf"<td>{stamp}</td>.*?</tr>", page, re.S)
        assert row is not None, stamp
        return re.sub(r"<[^>]+>", " ", row[0])

    assert "已发送" in fate(on_time)
    assert "已补发" in fate(caught_up)
    assert "错过（已告知办公室）" in fate(missed)
    assert "未执行（服务未运行）" in fate(not_run)
    assert "每周工作通报" not in page.split("<table")[1]  # filtered to one job


async def test_a_checking_job_is_shown_once_not_on_every_coming_day(aiohttp_client: Any, db: Database) -> None:
    """The meeting reminder looks every morning and posts on a meeting's day: the whole plan names it once, with its
    rule and next check; filtered to it, every day it looks is listed."""
    office = await seed_office(db)
    settings = console_settings(db.url)
    client = await aiohttp_client(create_app(settings, db=db))
    await client.post("/console/login", data={"token": await link_token(db, office.roster.office)})
    page = await (await client.get("/console/jobs")).text()
    panel, rest = page.split("<table", 1)
    table = rest.split("</table>")[0]
    coming_rows = [row for row in re.findall(r"<tr>.*?</tr>", table, re.S) if "会议提醒" in row]
    assert coming_rows == []  # past rows (muted) may remain: they say what happened
    assert "按需发送" in panel and panel.count("会议提醒：") == 1 and "当天有会议时才发送；下次检查" in panel
    assert "每周工作通报" in table  # the other jobs are listed day by day as before
    filtered = await (await client.get("/console/jobs?job=meeting-reminder")).text()
    listed = re.findall(r"<tr[^>]*>\s*<td>[^<]+</td>\s*<td>会议提醒</td>", filtered)
    assert len(listed) >= 7 and "按需发送" not in filtered
