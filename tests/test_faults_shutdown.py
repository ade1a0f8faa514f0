"""SIGTERM while callbacks arrive, the inbox worker is behind and requests to the platform are in flight.

The process exits within a bound, and loses nothing it acknowledged: every callback answered 200 is stored, and
every stored one is either handled completely (its report version and its confirmation written together) or
not at all (still pending) — none is left half-way. Every message is sent or still pending, none is left
``sending`` (the requests in flight were finished and recorded). A restart finishes the rest, and the platform's
retries of the callbacks that got no answer change nothing that was stored.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from storage.db import Database
from storage.models import InboxState, OutboxState
from tests.fakes import FakePlatforms, Stall
from tests.faults_kit import (
    LIAISONS,
    Callback,
    Instance,
    bot_callback,
    client,
    cluster,
    config_text,
    deliveries_by_marker,
    duban,
    eventually,
    fresh_database,
    inbox,
    outbox,
    post_callback,
    queue_numbered,
    roster_csv,
    submissions,
    wecom_robot,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MEMBER_GROUPS = {f"成员单位群{n:02d}": f"g{n:02d}" for n in range(1, 21)}
OFFICE = "工作机制办公室"
CALLBACKS = 400
EXIT_WITHIN = 20.0  # seconds from SIGTERM to exit


async def stream(instance: Instance, callbacks: list[Callback], acked: set[str], *, rate: float) -> None:
    """Callbacks at ``rate`` per second (each on its own), as a platform delivers them; notes which got a 200."""
    tasks = []
    async with client() as http:

        async def one(callback: Callback) -> None:
            if await post_callback(http, instance.url, callback) == 200:
                acked.add(callback.msgid)

        for callback in callbacks:
            tasks.append(asyncio.create_task(one(callback)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)


async def test_sigterm_drains_within_a_bound_and_loses_nothing(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    robots = {**MEMBER_GROUPS, OFFICE: "office"}
    for key in robots.values():
        fake_platforms.wecom.add_robot(key)
    groups = [wecom_robot(name, fake_platforms.url, key, office=name == OFFICE) for name, key in robots.items()]
    fake_platforms.set_latency(3.0)  # requests to the platform take three seconds to answer
    async with (
        fresh_database(pg_url) as url,
        cluster(tmp_path, url, 1, lambda port: config_text(url, port, fake_platforms.url, groups)) as running,
    ):
        [instance] = running.instances
        roster = roster_csv(tmp_path / "roster.csv", list(MEMBER_GROUPS), OFFICE)
        assert (await duban(instance.config, "roster", "import", str(roster))).code == 0
        callbacks = [
            bot_callback(
                f"term-{n:04d}",
                LIAISONS[n % len(LIAISONS)],
                f"10月工作进展：第{n}次报送，完成重点项目{n % 7}个。",
                fake_platforms.wecom.new_response_url(),
            )
            for n in range(CALLBACKS)
        ]
        db = Database(url)
        try:
            markers = await queue_numbered(db, MEMBER_GROUPS, 4, origin="announcement")
            acked: set[str] = set()
            arriving = asyncio.create_task(stream(instance, callbacks, acked, rate=100))

            async def busy() -> tuple[int, int, int]:
                rows, stored = await outbox(db), await inbox(db)
                sending = sum(r.state is OutboxState.SENDING for r in rows)
                return sending, sum(r.state is InboxState.PENDING for r in stored), len(acked)

            await eventually(
                busy,
                lambda seen: seen[0] >= 5 and seen[1] >= 20 and seen[2] >= 100,
                within=30,
                what="sends in flight, callbacks waiting and arriving",
            )
            code, took = await instance.terminate(within=60)
            assert code == 0, instance.log_tail()
            assert took < EXIT_WITHIN, f"took {took:.1f} s to exit"
            await arriving

            # What the stopped process left behind.
            stored = await inbox(db)
            assert acked <= {row.message_id for row in stored}
            assert {row.state for row in stored} <= {InboxState.DONE, InboxState.PENDING}
            left = await outbox(db)
            assert {row.state for row in left} <= {OutboxState.SENT, OutboxState.PENDING}, Counter(
                r.state for r in left
            )
            replied = Counter(row.inbox_id for row in left if row.inbox_id is not None)
            filed = Counter(version.inbox_id for version in await submissions(db))
            for row in stored:
                expected = 1 if row.state is InboxState.DONE else 0
                assert (replied[row.id], filed[row.id]) == (expected, expected), (row.id, row.state)
            assert any(row.state is InboxState.PENDING for row in stored)  # work was cut short…
            assert any(row.state is OutboxState.PENDING for row in left)  # …on both sides

            # A restart finishes the rest; the platform retries every callback that got no answer.
            await instance.start()
            await instance.ready()
            async with client() as http:
                missed = [c for c in callbacks if c.msgid not in acked]
                statuses = await asyncio.gather(*(post_callback(http, instance.url, c) for c in missed))
            assert Counter(statuses) == {200: len(missed)}
            rows = await eventually(
                lambda: inbox(db),
                lambda rows: len(rows) == CALLBACKS and all(row.state is InboxState.DONE for row in rows),
                within=120,
                what=f"{CALLBACKS} callbacks handled",
                every=1.0,
            )
            final = await eventually(
                lambda: outbox(db),
                lambda rows: all(row.state is OutboxState.SENT for row in rows),
                within=120,
                what="every message sent",
                every=1.0,
            )
        finally:
            await db.close()
        assert sorted(row.message_id for row in rows) == [callback.msgid for callback in callbacks]
        replies = Counter(row.inbox_id for row in final if row.inbox_id is not None)
        assert replies == dict.fromkeys((row.id for row in rows), 1)
        assert set(deliveries_by_marker(fake_platforms.wecom.delivered(), markers).values()) == {1}
        answers = Counter(e.target for e in fake_platforms.wecom.delivered() if e.kind == "response_url")
        assert len(answers) == CALLBACKS and set(answers.values()) == {1}
        assert fake_platforms.wecom.errcodes() == []
        assert running.tracebacks() == []
        assert "did not finish within" not in instance.log()  # drained, not cancelled


async def test_sigterm_while_the_platform_does_not_answer_leaves_nothing_sending(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    """Requests that would outlast the drain are given up as uncertain (the office told) rather than left
    ``sending`` — where they would hold back their robots' queues until the two-minute lease ran out."""
    robots = {f"成员单位群{n:02d}": f"s{n:02d}" for n in range(1, 11)}
    for key in robots.values():
        fake_platforms.wecom.add_robot(key)
        fake_platforms.wecom.script(key, Stall(deliver=True))  # posted, never answered
    fake_platforms.wecom.add_robot("office")
    groups = [wecom_robot(name, fake_platforms.url, key) for name, key in robots.items()]
    groups.append(wecom_robot(OFFICE, fake_platforms.url, "office", office=True))
    async with (
        fresh_database(pg_url) as url,
        cluster(
            tmp_path, url, 1, lambda port: config_text(url, port, fake_platforms.url, groups, read_timeout=30)
        ) as running,
    ):
        [instance] = running.instances
        db = Database(url)
        try:
            markers = await queue_numbered(db, robots, 2, origin="announcement")

            async def in_flight() -> int:
                return sum(row.state is OutboxState.SENDING for row in await outbox(db))

            await eventually(in_flight, lambda n: n == len(robots), within=30, what="a request in flight per robot")
            code, took = await instance.terminate(within=60)
            assert code == 0 and took < EXIT_WITHIN, (code, took)
            left = {row.id: row for row in await outbox(db)}
            stalled = set(list(markers.values())[::2])  # each robot's first message (queued two per robot)
            assert {row.state for row in left.values() if row.origin == "announcement"} == {
                OutboxState.UNCERTAIN,
                OutboxState.PENDING,
            }
            uncertain = {i for i, row in left.items() if row.state is OutboxState.UNCERTAIN and row.origin != "alert"}
            assert uncertain == stalled
            [notice] = [row for row in left.values() if row.origin == "alert"]  # the office told, in one message
            assert all(f"编号 {outbox_id}：" in notice.message["body"] for outbox_id in uncertain)

            await instance.start()
            final = await eventually(
                lambda: outbox(db),
                lambda rows: all(row.state in (OutboxState.SENT, OutboxState.UNCERTAIN) for row in rows),
                within=60,
                what="the rest sent after the restart",
            )
        finally:
            await db.close()
        assert {row.id for row in final if row.state is OutboxState.UNCERTAIN} == uncertain
        assert set(deliveries_by_marker(fake_platforms.wecom.delivered(), markers).values()) == {1}
        assert "did not finish within" not in instance.log()
        assert running.tracebacks() == []
