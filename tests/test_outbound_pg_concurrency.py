"""Two dispatchers on one PostgreSQL database: they share the work, and no row is ever sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from conftest import require_pg, truncate_all
from sqlalchemy import select

from bot.config import GroupConfig
from bot.context import AppContext
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.models import Group, OutboxMessage, OutboxState
from storage.outbound import OutboundMessage, enqueue_to_group
from tests.fakes import FakePlatforms
from tests.outbound_kit import FAST, context, settings_for

ROBOTS = 50
PER_ROBOT = 20  # one minute's budget per robot: 1,000 rows, none paced
IN_FLIGHT = 16


@pytest.mark.postgres
async def test_two_dispatchers_send_a_thousand_rows_once_each(
    pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    url = require_pg(pg_url)
    first_db, second_db = Database(url), Database(url)
    try:
        await truncate_all(first_db)
        groups = [
            GroupConfig(name=f"群{n:02d}", platform="wecom", webhook=fake_platforms.wecom.add_robot(f"k{n:02d}"))
            for n in range(ROBOTS)
        ]
        settings = settings_for(fake_platforms, groups)
        first = await context(first_db, settings, instance="host-a:1:aaaaaa")
        second = AppContext(settings=settings, db=second_db, instance_id="host-b:2:bbbbbb")
        async with first_db.transaction() as session:
            by_name = {g.name: g for g in (await session.scalars(select(Group))).all()}
            for index in range(PER_ROBOT):
                for group in groups:
                    message = OutboundMessage(body=f"{group.name}-{index:02d}")
                    enqueue_to_group(session, by_name[group.name], message, origin="test")

        # Hold the first answers until both dispatchers have all their slots busy: each can have at most
        # IN_FLIGHT requests open, so 2 × IN_FLIGHT held requests prove that both are at work.
        gate = fake_platforms.wecom.hold_first(2 * IN_FLIGHT)

        async def open_gate() -> None:
            await gate.reached.wait()
            gate.release()

        options = replace(FAST, concurrency=IN_FLIGHT)
        settled = await asyncio.gather(
            drain_once(first, options=options), drain_once(second, options=options), open_gate()
        )
        assert settled[0] + settled[1] == ROBOTS * PER_ROBOT

        delivered = fake_platforms.wecom.delivered()
        bodies = [e.payload["markdown"]["content"] for e in delivered]
        assert len(bodies) == ROBOTS * PER_ROBOT
        assert max(Counter(bodies).values()) == 1  # none twice
        per_robot: dict[str, list[str]] = defaultdict(list)
        for exchange in delivered:
            per_robot[exchange.target].append(exchange.payload["markdown"]["content"])
        for n in range(ROBOTS):
            assert per_robot[f"k{n:02d}"] == [f"群{n:02d}-{i:02d}" for i in range(PER_ROBOT)]  # in order
        assert fake_platforms.wecom.errcodes() == []

        async with first_db.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        assert {row.state for row in rows} == {OutboxState.SENT}
        assert all(row.attempts == 1 for row in rows)
        senders = Counter(row.sending_by for row in rows)
        assert set(senders) == {"host-a:1:aaaaaa", "host-b:2:bbbbbb"}
    finally:
        await first_db.close()
        await second_db.close()
