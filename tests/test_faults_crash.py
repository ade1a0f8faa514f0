"""SIGKILL in the middle of everything: one instance of three dies while 1,000 callbacks arrive at it and while
its dispatcher has requests in flight; it is restarted at once, and the platform retries what got no answer.

- Every callback that got an HTTP 200 is in the inbox after the crash; in the end every callback is stored once
  and handled once (one report version and one confirmation each), the retries changing nothing.
- Every message is delivered exactly once, or is *uncertain* — listed by ``duban outbox list --uncertain`` and
  told to the office — and never delivered twice. Rows the dead process held wait out the two-minute sending
  lease (PostgreSQL instances may share a host name, so only the lease proves a sender dead); rows it had
  claimed for the inbox wait out the inbox lease.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.db import Database
from storage.models import InboxState, OutboxState
from tests.fakes import FakePlatforms
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

MEMBER_GROUPS = {f"成员单位群{n:02d}": f"g{n:02d}" for n in range(1, 31)}
OFFICE = "工作机制办公室"
BURST = 1000
KILL_AFTER = 300  # callbacks acknowledged before the kill
SENDERS = 32  # the platform's concurrent connections
UNCERTAIN = "消息可能未送达，请核实"  # the title of the office's notice


@contextmanager
def paused(instances: list[Instance]) -> Iterator[None]:
    """Stop ``instances`` with SIGSTOP for the block (they hold no transaction while idle), then resume them."""
    for instance in instances:
        os.kill(instance.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for instance in instances:
            os.kill(instance.pid, signal.SIGCONT)


def told(notice: str) -> int:
    """How many uncertain rows a notice to the office reports."""
    total = re.search(r"共 (\d+) 条", notice)
    return int(total[1]) if total else len(re.findall(r"编号 \d+：", notice))


async def burst(instance: Instance, callbacks: list[Callback], acked: set[str]) -> None:
    """Send every callback to ``instance``, ``SENDERS`` at a time; note which were answered 200."""
    pending = iter(callbacks)
    async with client(limit=SENDERS) as http:

        async def sender() -> None:
            for callback in pending:
                if await post_callback(http, instance.url, callback) == 200:
                    acked.add(callback.msgid)

        await asyncio.gather(*(sender() for _ in range(SENDERS)))


async def test_sigkill_during_a_burst_and_in_mid_dispatch(
    tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    robots = {**MEMBER_GROUPS, OFFICE: "office"}
    for key in robots.values():
        fake_platforms.wecom.add_robot(key)
    groups = [wecom_robot(name, fake_platforms.url, key, office=name == OFFICE) for name, key in robots.items()]
    fake_platforms.set_latency(2.0)  # every request stays in flight for two seconds
    async with (
        fresh_database(pg_url) as url,
        cluster(tmp_path, url, 3, lambda port: config_text(url, port, fake_platforms.url, groups)) as running,
    ):
        victim, *others = running.instances
        roster = roster_csv(tmp_path / "roster.csv", list(MEMBER_GROUPS), OFFICE)
        assert (await duban(victim.config, "roster", "import", str(roster))).code == 0
        db = Database(url)
        try:
            callbacks = [
                bot_callback(
                    f"burst-{n:04d}",
                    LIAISONS[n % len(LIAISONS)],
                    f"10月工作进展：第{n}次报送，完成重点项目{n % 7}个，新增签约企业{n % 5}家。",
                    fake_platforms.wecom.new_response_url(),
                )
                for n in range(BURST)
            ]
            pid = victim.pid

            async def held_by_victim() -> set[int]:
                rows = await outbox(db)
                return {r.id for r in rows if r.state is OutboxState.SENDING and f":{pid}:" in (r.sending_by or "")}

            # Only one row per robot is in flight at a time, so the two others could take every robot's head
            # before the victim polls: they are paused while the victim picks up its share.
            with paused(others):
                markers = await queue_numbered(db, MEMBER_GROUPS, 6, origin="announcement")
                await eventually(held_by_victim, lambda held: len(held) >= 3, within=30, what="the victim sending")
            acked: set[str] = set()
            sending = asyncio.create_task(burst(victim, callbacks, acked))

            async def acknowledged() -> int:
                return len(acked)

            await eventually(acknowledged, lambda n: n >= KILL_AFTER, within=60, what="the burst under way", every=0.01)
            victim.kill()
            assert await victim.wait(within=10) == -9
            await sending
            doomed = await held_by_victim()
            assert doomed, "the victim died with nothing in flight"
            assert KILL_AFTER <= len(acked) < BURST
            stored = {row.message_id for row in await inbox(db)}
            assert acked <= stored  # every acknowledged callback survived the crash

            await victim.start()
            await victim.ready()
            # The platform retries what got no answer; some acknowledged callbacks arrive again, elsewhere.
            retries = [(victim, c) for c in callbacks if c.msgid not in acked]
            retries += [(others[n % 2], c) for n, c in enumerate(callbacks) if c.msgid in acked and n % 10 == 0]
            async with client() as http:
                statuses = await asyncio.gather(*(post_callback(http, i.url, c) for i, c in retries))
            assert Counter(statuses) == {200: len(retries)}

            rows = await eventually(
                lambda: inbox(db),
                lambda rows: len(rows) == BURST and all(row.state is InboxState.DONE for row in rows),
                within=180,
                what=f"{BURST} callbacks handled",
                every=1.0,
            )
            final = await eventually(
                lambda: outbox(db),
                lambda rows: all(r.state in (OutboxState.SENT, OutboxState.UNCERTAIN) for r in rows),
                within=240,
                what="every message sent or uncertain",
                every=1.0,
            )
            # Callbacks: each stored once, handled once.
            assert sorted(row.message_id for row in rows) == [callback.msgid for callback in callbacks]
            replies = [r for r in final if r.channel == "wecom_response_url"]
            assert Counter(r.inbox_id for r in replies) == dict.fromkeys((row.id for row in rows), 1)
            filed = await submissions(db)
            assert Counter(version.inbox_id for version in filed) == dict.fromkeys((row.id for row in rows), 1)
            versions: dict[int, list[int]] = {}
            for version in filed:
                versions.setdefault(version.unit_id, []).append(version.version)
            assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in versions.values())

            # Messages: delivered once, or uncertain (those the dead process held), never twice.
            uncertain = {r.id for r in final if r.state is OutboxState.UNCERTAIN and r.origin != "alert"}
            assert uncertain == doomed
            delivered = deliveries_by_marker(fake_platforms.wecom.delivered(), markers)
            for marker, outbox_id in markers.items():
                allowed = (0, 1) if outbox_id in uncertain else (1,)
                assert delivered[marker] in allowed, (outbox_id, delivered[marker])
            answers = Counter(e.target for e in fake_platforms.wecom.delivered() if e.kind == "response_url")
            for reply in replies:
                code = str(reply.address["url"]).rsplit("=", 1)[-1]
                allowed = (0, 1) if reply.id in uncertain else (1,)
                assert answers[code] in allowed, (reply.id, reply.state, answers[code])
            assert fake_platforms.wecom.errcodes() == []  # not one request to a spent reply address

            listed = await duban(victim.config, "outbox", "list", "--uncertain", "--limit", "1000")
            assert {int(n) for n in re.findall(r"^\s*(\d+)\s+待核实", listed.out, re.MULTILINE)} == uncertain
            alerts = await eventually(
                lambda: outbox(db),
                lambda rows: (
                    any(r.origin == "alert" for r in rows)
                    and all(r.state is OutboxState.SENT for r in rows if r.origin == "alert")
                ),
                within=60,
                what="the office told",
            )
            # One notice per sweep: its rows by number, or (beyond twenty) how many and where to see them all.
            notices = [r.message["body"] for r in alerts if r.origin == "alert" and r.message["title"] == UNCERTAIN]
            named = {int(n) for body in notices for n in re.findall(r"编号 (\d+)：", body)}
            assert named <= uncertain
            assert sum(told(body) for body in notices) == len(uncertain)
        finally:
            await db.close()
        assert running.tracebacks() == []
