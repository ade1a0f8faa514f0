"""Three ``duban serve`` processes on one PostgreSQL database, each with its own scheduler, running a declared
weekly 会商 on a fake clock: the notice, the 回执 reminder of the working day before and the morning reminder are
each posted once — counted at the fake WeCom — whichever instance fires first.

Each process's clock is moved by a ``sitecustomize`` (``time_machine``, ticking at real speed) to a few seconds
before the moment under test, the same fake moment in all three (the offset is fixed against the wall clock when
the phase starts). Between phases the three are stopped, as over a night: the catch-up at the next start tells
the office once about what was missed in between.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from schedules.claims import epoch
from storage.db import Database
from storage.models import JobClaim, OutboxMessage, OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms
from tests.faults_kit import (
    Cluster,
    bot_callback,
    client,
    cluster,
    config_text,
    duban,
    eventually,
    fresh_database,
    outbox,
    post_callback,
    roster_csv,
    wecom_robot,
)
from tests.handlers_kit import SHANGHAI

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MEMBERS_1, MEMBERS_2, OFFICE = "强省会工作机制群一", "强省会工作机制群二", "工作机制办公室"
ROBOT_KEYS = {MEMBERS_1: "members-1", MEMBERS_2: "members-2", OFFICE: "office"}
OTHER_JOBS = ["weekly-briefing", "monthly-circular", "deadline-reminder", "overdue-notice", "item-reminder"]
MEETING = """
[[schedules.meetings]]
title = "周会商"
weekday = 3
at = "15:00"
place = "市政府1号楼第三会议室"
attendees = "各成员单位分管负责同志"
notice_workdays = 3
"""
CLOCK = '''"""Test-only: this process's clock reads FAKE_CLOCK ("<fake ISO time>@<wall-clock epoch>") and ticks."""
import os

if os.environ.get("FAKE_CLOCK"):
    import time
    from datetime import datetime

    import time_machine

    fake, wall = os.environ["FAKE_CLOCK"].split("@")
    time_machine.travel(datetime.fromisoformat(fake).timestamp() + time.time() - float(wall), tick=True).start()
'''
LEAD = timedelta(seconds=6)  # the fake clock starts this long before the moment under test


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


async def start_at(running: Cluster, clock_dir: Path, moment: datetime) -> None:
    """Start the three with their clocks ``LEAD`` before ``moment`` (one fake timeline for all three)."""
    path = os.pathsep.join(filter(None, [str(clock_dir), os.environ.get("PYTHONPATH", "")]))
    for instance in running.instances:
        instance.env = {"PYTHONPATH": path, "FAKE_CLOCK": f"{(moment - LEAD).isoformat()}@{time.time()}"}
    await running.start()


async def ran_everywhere(running: Cluster, job: str, moment: datetime) -> None:
    """Until each instance has run ``job`` at ``moment``: by its trigger or, if it started late, its catch-up."""
    line = f"{job} {moment.isoformat()}: "
    await eventually(
        lambda: _logs(running),
        lambda logs: all(line in log for log in logs),
        within=60,
        what=f"every instance ran {line}",
    )


async def _logs(running: Cluster) -> list[str]:
    return [instance.log() for instance in running.instances]


async def sent(db: Database, origin: str) -> list[OutboxMessage]:
    return [row for row in await outbox(db) if row.origin == origin]


async def test_a_weekly_meeting_on_three_instances_is_posted_once_at_each_step(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    clock_dir = tmp_path / "clock"
    clock_dir.mkdir()
    (clock_dir / "sitecustomize.py").write_text(CLOCK, encoding="utf-8")
    groups = [wecom_robot(name, fake_platforms.url, key, office=name == OFFICE) for name, key in ROBOT_KEYS.items()]
    for key in ROBOT_KEYS.values():
        fake_platforms.wecom.add_robot(key)

    def config(port: int) -> str:
        return config_text(pg_url_of(port), port, fake_platforms.url, groups, disabled_jobs=OTHER_JOBS) + MEETING

    async with fresh_database(pg_url) as url:

        def pg_url_of(port: int) -> str:
            return url

        async with cluster(tmp_path, url, 3, config, start=False) as running:
            roster = roster_csv(tmp_path / "roster.csv", [MEMBERS_1, MEMBERS_2], OFFICE)
            imported = await duban(running.instances[0].config, "roster", "import", str(roster))
            assert imported.code == 0, imported.err
            db = Database(url)
            try:
                async with db.transaction() as session:  # the scheduler has run on this database since 08:00
                    await epoch(session, by="earlier", now=at(4, 8))

                # Friday 4 December 09:00: the notice of Wednesday's 会商, three working days ahead.
                await start_at(running, clock_dir, at(4, 9))
                await ran_everywhere(running, "meeting-notice", at(4, 9))
                notices = await eventually(
                    lambda: sent(db, "meeting-notice"),
                    lambda rows: len(rows) == 2 and all(row.state is OutboxState.SENT for row in rows),
                    within=30,
                    what="the notice sent to both member groups",
                )
                assert {row.target for row in notices} == {MEMBERS_1, MEMBERS_2}
                number = _number(notices[0])
                # The 发展改革委 sends its 回执, through the second instance (signed at the instances' time).
                response_url = fake_platforms.wecom.new_response_url()
                with time_machine.travel(at(4, 9, 1), tick=False):
                    callback = bot_callback("receipt-1", "zhangmy", f"#{number} 参会人员：张三 副主任", response_url)
                async with client(limit=2) as http:
                    assert await post_callback(http, running.instances[1].url, callback) == 200
                (reply,) = await eventually(
                    lambda: sent(db, "reply"),
                    lambda rows: len(rows) == 1 and rows[0].state is OutboxState.SENT,
                    within=30,
                    what="the 回执 acknowledged",
                )
                assert (
                    reply.message["body"].startswith("已收到省发展改革委对")
                    and f"会议#{number}“" in reply.message["body"]
                )
                await running.close()

                # Tuesday 8 December 10:00, the working day before: only the laggards' liaisons are chased.
                await start_at(running, clock_dir, at(8, 10))
                await ran_everywhere(running, "round-reminder", at(8, 10))
                chases = await eventually(
                    lambda: sent(db, "round-reminder"),
                    lambda rows: len(rows) == 2 and all(row.state is OutboxState.SENT for row in rows),
                    within=30,
                    what="the 回执 reminder sent to both member groups",
                )
                await running.close()
                mentioned = {row.target: {m["wecom_userid"] for m in row.message["mentions"]} for row in chases}
                assert mentioned == {
                    MEMBERS_1: {"wangjh", "liuxy"},
                    MEMBERS_2: {"zhangwei", "lina", "chenqiang", "zhoumin"},
                }

                # Wednesday 9 December 08:30: everyone is reminded of the time and place.
                await start_at(running, clock_dir, at(9, 8, 30))
                await ran_everywhere(running, "meeting-reminder", at(9, 8, 30))
                mornings = await eventually(
                    lambda: sent(db, "meeting-reminder"),
                    lambda rows: len(rows) == 2 and all(row.state is OutboxState.SENT for row in rows),
                    within=30,
                    what="the morning reminder sent to both member groups",
                )
                assert all("15:00召开，地点：市政府1号楼第三会议室" in row.message["body"] for row in mornings)
                assert {m["wecom_userid"] for m in mornings[0].message["mentions"]} | {
                    m["wecom_userid"] for m in mornings[1].message["mentions"]
                } == {"zhangmy", "lijy", "wangjh", "liuxy", "zhangwei", "lina", "chenqiang", "zhoumin"}

                async with db.sessions() as session:
                    claims = {
                        (job, occurrence): (status, by)
                        for job, occurrence, status, by in await session.execute(
                            select(JobClaim.job, JobClaim.occurrence, JobClaim.status, JobClaim.claimed_by)
                        )
                    }
                for job, moment in (
                    ("meeting-notice", at(4, 9)),
                    ("round-reminder", at(8, 10)),
                    ("meeting-reminder", at(9, 8, 30)),
                ):
                    assert claims[(job, moment)][0] == "posted", (job, moment, claims.get((job, moment)))
                rows = await outbox(db)
                assert all(row.state is OutboxState.SENT for row in rows), [(r.origin, r.state) for r in rows]
                assert max(Counter(row.dedupe_key for row in rows if row.dedupe_key).values()) == 1
                expected = Counter[str]()
                for row in rows:
                    if row.channel != "wecom_response_url":
                        expected[ROBOT_KEYS[row.target]] += row.parts_sent
                robots = Counter(e.target for e in fake_platforms.wecom.delivered() if e.kind == "robot")
                assert robots == expected  # the fake received each post once, nothing else
                titles = Counter(
                    row.message["title"] for row in rows if row.origin.startswith(("meeting", "round-reminder"))
                )
                assert titles == {"会议通知：周会商": 2, "会议回执提醒": 2, "会议提醒": 2}
            finally:
                await db.close()
            assert running.tracebacks() == []


def _number(row: OutboxMessage) -> int:
    body = OutboundMessage.model_validate(row.message).body
    return int(body.split("会议通知#", 1)[1].split("：", 1)[0])
