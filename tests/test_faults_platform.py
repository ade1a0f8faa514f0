"""A platform that fails at random (seeded): HTTP 5xx, 45009 and 130101, refusals, stalls past the read
deadline, connection resets, slow answers — with the message posted or not before a stall or a reset, as in life.

Three instances dispatch 90 messages to 30 WeCom and DingTalk robots through it. Every message ends delivered,
or failed or uncertain with the office told (its own robot stays reachable); nothing is delivered twice. Then the
platform recovers and the office resends every failed and uncertain message with ``duban outbox resend``: each
arrives, and only those may have arrived twice (an uncertain one that had in fact been posted).

Back-off is waiting, and waiting is not what this test is about: while it runs, rows backing off (a robot
waits ten minutes after a 130101, and its later messages with it) are made due every second, as if their time
had come.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, update

from storage.db import Database
from storage.models import OutboxMessage, OutboxState
from tests.fakes import FakePlatforms, RandomFaults
from tests.faults_kit import (
    GroupSpec,
    cluster,
    config_text,
    delivered_anywhere,
    deliveries_by_marker,
    dingtalk_robot,
    duban,
    eventually,
    fresh_database,
    outbox,
    queue_numbered,
    wecom_robot,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OFFICE = "工作机制办公室"
FINAL = (OutboxState.SENT, OutboxState.FAILED, OutboxState.UNCERTAIN)
UNCERTAIN = "消息可能未送达，请核实"
PER_GROUP = 3


def groups_at(fake_url: str) -> list[GroupSpec]:
    wecom = [wecom_robot(f"企业微信群{n:02d}", fake_url, f"w{n:02d}") for n in range(1, 16)]
    dingtalk = [dingtalk_robot(f"钉钉群{n:02d}", fake_url, f"d{n:02d}") for n in range(1, 16)]
    return [*wecom, *dingtalk, wecom_robot(OFFICE, fake_url, "office", office=True)]


@asynccontextmanager
async def time_passes_for_backoffs(db: Database) -> AsyncIterator[None]:
    """Every second, rows waiting for a retry (and the rows behind them) become due; the dispatcher still checks
    every rate limit when it claims them."""

    async def hurry() -> None:
        while True:
            async with db.transaction() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.due_at > func.now())
                    .values(due_at=func.now())
                )
            await asyncio.sleep(1.0)

    task = asyncio.create_task(hurry())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def told(notice: str) -> int:
    total = re.search(r"共 (\d+) 条", notice)
    return int(total[1]) if total else len(re.findall(r"编号 \d+：", notice))


async def test_a_randomly_failing_platform_loses_nothing_and_doubles_nothing(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    groups = groups_at(fake_platforms.url)
    faults = RandomFaults(0.3, seed=20261122, spare=frozenset({"office"}), stall_seconds=6.0, slow_seconds=1.5)
    fake_platforms.set_faults(faults)
    for platform in (fake_platforms.wecom, fake_platforms.dingtalk):
        platform.auto_register = True
    async with (
        fresh_database(pg_url) as url,
        cluster(
            tmp_path, url, 3, lambda port: config_text(url, port, fake_platforms.url, groups, read_timeout=2.0)
        ) as running,
    ):
        db = Database(url)
        try:
            members = [group.name for group in groups if not group.office]
            markers = await queue_numbered(db, members, PER_GROUP, origin="announcement")
            originals = set(markers.values())

            async def originals_now() -> list[OutboxMessage]:
                return [row for row in await outbox(db) if row.id in originals]

            async with time_passes_for_backoffs(db):
                settled = await eventually(
                    originals_now,
                    lambda rows: all(row.state in FINAL for row in rows),
                    within=120,
                    what="every message delivered, failed or uncertain",
                    every=1.0,
                )
                delivered = deliveries_by_marker(delivered_anywhere(fake_platforms), markers)
                states = {row.id: row.state for row in settled}
                for marker, outbox_id in markers.items():
                    allowed = (1,) if states[outbox_id] is OutboxState.SENT else (0, 1)
                    if states[outbox_id] is OutboxState.FAILED:
                        allowed = (0,)
                    assert delivered[marker] in allowed, (outbox_id, states[outbox_id], delivered[marker])
                drawn = fake_platforms.summary()["faults"]
                assert set(drawn) == {"http5xx", "busy", "refuse", "stall", "reset", "slow"}, drawn
                errcodes = set(fake_platforms.wecom.errcodes()) | set(fake_platforms.dingtalk.errcodes())
                assert {45009, 130101} <= errcodes

                # The office was told of every failure (once per robot and day) and every uncertain message.
                failed = [row for row in settled if row.state is OutboxState.FAILED]
                uncertain = {row.id for row in settled if row.state is OutboxState.UNCERTAIN}
                assert failed and uncertain, Counter(states.values())
                alerts = await eventually(
                    lambda: outbox(db),
                    lambda rows: all(r.state is OutboxState.SENT for r in rows if r.origin == "alert"),
                    within=60,
                    what="every notice to the office sent",
                )
                keys = {r.dedupe_key for r in alerts if r.origin == "alert"}
                assert all(any(k and k.startswith(f"alert:{row.target}:") for k in keys) for row in failed)
                notices = [r.message["body"] for r in alerts if r.origin == "alert" and r.message["title"] == UNCERTAIN]
                assert {int(n) for body in notices for n in re.findall(r"编号 (\d+)：", body)} <= uncertain
                assert sum(told(body) for body in notices) == len(uncertain)

            # The platform recovers; the office resends what failed or may not have arrived.
            fake_platforms.set_faults(None)
            config = running.instances[0].config
            resend = [row.id for row in settled if row.state is not OutboxState.SENT]
            ran = await asyncio.gather(*(duban(config, "outbox", "resend", str(outbox_id)) for outbox_id in resend))
            assert all(r.code == 0 for r in ran), [r.err for r in ran if r.code]
            copies = await eventually(
                lambda: outbox(db),
                lambda rows: (
                    len([r for r in rows if r.resent_from in resend]) == len(resend)
                    and all(r.state is OutboxState.SENT for r in rows if r.resent_from in resend)
                ),
                within=60,
                what="every resent message delivered",
            )
            assert sorted(r.resent_from for r in copies if r.resent_from) == sorted(resend)
        finally:
            await db.close()
        delivered = deliveries_by_marker(delivered_anywhere(fake_platforms), markers)
        for marker, outbox_id in markers.items():
            allowed = (1, 2) if states[outbox_id] is OutboxState.UNCERTAIN else (1,)
            assert delivered[marker] in allowed, (outbox_id, states[outbox_id], delivered[marker])
        assert running.tracebacks() == []
