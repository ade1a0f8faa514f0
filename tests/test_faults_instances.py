"""Three ``duban serve`` processes on one PostgreSQL database, as a province runs them behind a load balancer.

- every scheduled occurrence of November 2026 is posted once per group, although each is run on all three
  instances' configurations at the same moment (``duban jobs run``, three processes at once);
- callbacks spread over the three, with duplicates sent to different instances, are stored once and handled
  once (one report version and one confirmation each).

An instance killed with SIGKILL in mid-dispatch (and during a burst of callbacks) is ``test_faults_crash.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from schedules.jobs import dedupe_key
from schedules.registry import JOB_NAMES
from storage.db import Database
from storage.models import InboxState, JobClaim, OutboxMessage, OutboxState, SendLog
from tests.fakes import FakePlatforms
from tests.faults_kit import (
    LIAISONS,
    Cluster,
    bot_callback,
    client,
    cluster,
    config_text,
    duban,
    eventually,
    fresh_database,
    inbox,
    outbox,
    post_callback,
    roster_csv,
    submissions,
    wecom_robot,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MEMBERS_1, MEMBERS_2, OFFICE = "强省会工作机制群一", "强省会工作机制群二", "工作机制办公室"
DAILY_REMINDERS = ["item-reminder", "round-reminder", "meeting-reminder"]
ROBOT_KEYS = {MEMBERS_1: "members-1", MEMBERS_2: "members-2", OFFICE: "office"}


def expected_groups(job: str) -> set[str]:
    """Where each job posts with this roster, where nobody has reported: the circulars, briefings and reminders
    to both member groups (each holds two units still to report), the overdue notice to the office."""
    return {OFFICE} if job == "overdue-notice" else {MEMBERS_1, MEMBERS_2}


def three_instances(tmp_path: Path, url: str, fakes: FakePlatforms) -> AbstractAsyncContextManager[Cluster]:
    """Three instances whose groups post to the fake WeCom, with the reporting cycle's four timed jobs.

    The daily 督办事项, 征集 and meeting reminders (``item-reminder``, ``round-reminder``, ``meeting-reminder``) are
    switched off: with no items, collections or meetings they post nothing, and their November mornings would
    multiply the processes this test starts (``test_items_rhythm.py`` and ``test_rounds_quarter.py`` cover them).
    """
    groups = [wecom_robot(name, fakes.url, key, office=name == OFFICE) for name, key in ROBOT_KEYS.items()]
    for key in ROBOT_KEYS.values():
        fakes.wecom.add_robot(key)
    return cluster(
        tmp_path,
        url,
        3,
        lambda port: config_text(url, port, fakes.url, groups, disabled_jobs=DAILY_REMINDERS),
    )


async def import_roster(config: Path) -> None:
    """Four units, two in each member group, and an office member, through ``duban roster import``."""
    roster = roster_csv(config.parent / "roster.csv", [MEMBERS_1, MEMBERS_2], OFFICE)
    imported = await duban(config, "roster", "import", str(roster))
    assert imported.code == 0, imported.err


async def assert_each_sent_row_posted_once(db: Database, fakes: FakePlatforms) -> None:
    """Per robot, the platform received exactly as many posts as the sent rows have parts (alerts included)."""
    rows = await outbox(db)
    expected = Counter[str]()
    for row in rows:
        assert row.state is OutboxState.SENT, (row.id, row.target, row.state, row.last_error)
        expected[ROBOT_KEYS[row.target]] += row.parts_sent
    received = Counter(exchange.target for exchange in fakes.wecom.delivered())
    assert received == expected
    async with db.sessions() as session:
        ok = Counter((await session.scalars(select(SendLog.outbox_id).where(SendLog.outcome == "ok"))).all())
    assert all(ok[row.id] == row.parts_sent for row in rows)


async def test_every_occurrence_of_a_month_is_posted_once_per_group(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    async with fresh_database(pg_url) as url, three_instances(tmp_path, url, fake_platforms) as running:
        configs = [instance.config for instance in running.instances]
        imported = await duban(
            configs[0], "roster", "import", str(roster_csv(tmp_path / "roster.csv", [MEMBERS_1, MEMBERS_2], OFFICE))
        )
        assert imported.code == 0, imported.err
        listed = await duban(configs[0], "jobs", "list", "--from", "2026-11-01", "--days", "30", "--json")
        occurrences = [(o["job"], o["at"]) for o in json.loads(listed.out) if not o["skipped"]]
        assert len(occurrences) >= 10 and {job for job, _ in occurrences} == {
            "weekly-briefing",
            "monthly-circular",
            "deadline-reminder",
            "overdue-notice",
        }
        for job, at in occurrences:  # each occurrence on all three configurations at the same moment
            runs = await asyncio.gather(*(duban(config, "jobs", "run", job, "--at", at) for config in configs))
            assert all(run.code == 0 for run in runs), [run.err for run in runs]
            outputs = sorted(run.out for run in runs)
            assert sum("已执行" in out for out in outputs) == 1, outputs
            assert sum("本次未重复发送" in out for out in outputs) == 2, outputs

        db = Database(url)
        try:
            wanted = {
                dedupe_key(job, datetime.fromisoformat(at), group)
                for job, at in occurrences
                for group in expected_groups(job)
            }

            async def scheduled() -> list[OutboxMessage]:
                return [row for row in await outbox(db) if row.origin in {job for job, _ in occurrences}]

            rows = await eventually(
                scheduled,
                lambda rows: len(rows) == len(wanted) and all(row.state is OutboxState.SENT for row in rows),
                within=90,
                what=f"{len(wanted)} scheduled messages sent",
            )
            assert {row.dedupe_key for row in rows} == wanted  # one row per occurrence per group, no other
            async with db.sessions() as session:
                claims = (await session.execute(select(JobClaim.job, JobClaim.occurrence, JobClaim.status))).all()
            ran = {(job, occurrence): status for job, occurrence, status in claims if job in JOB_NAMES}
            assert ran == {(job, datetime.fromisoformat(at)): "posted" for job, at in occurrences}
            await assert_each_sent_row_posted_once(db, fake_platforms)
        finally:
            await db.close()
        assert running.tracebacks() == []


async def test_callbacks_spread_over_the_instances_are_stored_and_handled_once(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    count = 240
    async with fresh_database(pg_url) as url, three_instances(tmp_path, url, fake_platforms) as running:
        imported = await duban(
            running.instances[0].config,
            "roster",
            "import",
            str(roster_csv(tmp_path / "r.csv", [MEMBERS_1, MEMBERS_2], OFFICE)),
        )
        assert imported.code == 0, imported.err
        callbacks = [
            bot_callback(
                f"rr-{n:04d}",
                LIAISONS[n % len(LIAISONS)],
                f"10月工作进展：第{n}次报送，完成重点项目{n % 7}个，新增签约企业{n % 5}家。",
                fake_platforms.wecom.new_response_url(),
            )
            for n in range(count)
        ]
        instances = running.instances
        # Round robin, and every fourth callback again to the next instance (a platform retry that a load
        # balancer sends elsewhere), all at once in a seeded order.
        sends = [(instances[n % 3], callback) for n, callback in enumerate(callbacks)]
        sends += [(instances[(n + 1) % 3], callbacks[n]) for n in range(0, count, 4)]
        random.Random(7).shuffle(sends)
        async with client(limit=48) as http:
            statuses = await asyncio.gather(*(post_callback(http, i.url, callback) for i, callback in sends))
        assert Counter(statuses) == {200: len(sends)}

        db = Database(url)
        try:
            rows = await eventually(
                lambda: inbox(db),
                lambda rows: len(rows) == count and all(row.state is InboxState.DONE for row in rows),
                within=120,
                what=f"{count} callbacks handled",
            )
            sent = await eventually(
                lambda: outbox(db),
                lambda rows: len(rows) >= count and all(row.state is OutboxState.SENT for row in rows),
                within=60,
                what="every confirmation sent",
            )
            replies = [row for row in sent if row.channel == "wecom_response_url"]
            assert sorted(row.message_id for row in rows) == [callback.msgid for callback in callbacks]
            by_inbox = Counter(reply.inbox_id for reply in replies)
            assert by_inbox == dict.fromkeys((row.id for row in rows), 1)  # one confirmation each
            assert all("已收到" in reply.message["body"] for reply in replies)
            filed = await submissions(db)
            assert Counter(version.inbox_id for version in filed) == dict.fromkeys((row.id for row in rows), 1)
            versions: dict[int, list[int]] = {}
            for version in filed:
                versions.setdefault(version.unit_id, []).append(version.version)
            assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in versions.values())
        finally:
            await db.close()
        answered = Counter(e.target for e in fake_platforms.wecom.delivered() if e.kind == "response_url")
        assert len(answered) == count and set(answered.values()) == {1}  # each response_url used once
        assert fake_platforms.wecom.errcodes() == []
        async with client(limit=4) as http:
            stored_by = [await stored_callbacks(http, i.url) for i in instances]
        assert all(stored_by) and sum(stored_by) == count, stored_by  # each instance stored a share, once
        assert running.tracebacks() == []


async def stored_callbacks(http: aiohttp.ClientSession, url: str) -> int:
    """Callbacks an instance stored, from its ``/metrics`` (``duban_callbacks_total{result="stored"}``)."""
    async with http.get(f"{url}/metrics") as response:
        text = await response.text()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("duban_callbacks_total{") and 'result="stored"' in line
    )
