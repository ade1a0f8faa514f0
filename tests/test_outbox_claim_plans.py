"""PostgreSQL: the outbox claim stays cheap when the planner's statistics lag behind the table.

A connection's prepared claim statement is planned once for any parameters (a *generic* plan) after a few runs.
Planned while the outbox was small and never analysed, that plan probed "an earlier row of the same key" through
the state index, reading every pending row for each candidate: after a burst of 13,000 answers each claim took
about 20 seconds, and the backlog drained at a few rows a second (found with ``python -m bench.inbound``; this
machine's PostgreSQL runs without autovacuum, so the statistics never caught up).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from bot.outbound.limits import policy_for
from storage import migrate
from storage.db import Database
from storage.models import OutboxMessage
from storage.outbound import OutboundMessage, outbox_values
from storage.outbox_claim import claim_due

SMALL = 40
BURST = 2_000


async def queue_answers(db: Database, first: int, count: int) -> None:
    """``count`` answers, each on its own once-only reply route, as a burst of liaisons' messages leaves."""
    rows = [
        outbox_values(
            channel="wecom_response_url",
            target=f"chat{n}",
            rate_key=f"wecom_response_url:m{n}",
            address={"url": f"http://127.0.0.1:9/response?code=m{n}"},
            message=OutboundMessage(body="您好，已收到。"),
            origin="reply",
        )
        for n in range(first, first + count)
    ]
    async with db.transaction() as session:
        await session.execute(insert(OutboxMessage), rows)


async def claim_reading(db: Database) -> tuple[int, int]:
    """Claim once and roll back: how many rows the claim took, and how many the outbox's scans read for it."""
    async with db.sessions() as session:
        result = await claim_due(
            session, now=datetime.now(UTC), instance="test:1", limit=16, policy_of=lambda row: policy_for(row, {})
        )
        read = await session.scalar(
            text(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                "FROM pg_stat_xact_user_tables WHERE relname = 'outbox'"
            )
        )
        await session.rollback()
    return len(result.claimed), int(read or 0)


@pytest.mark.postgres
async def test_a_claim_after_a_burst_reads_rows_in_proportion_to_the_burst(empty_pg_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_pg_url)
    db = Database(empty_pg_url)
    try:
        await queue_answers(db, 0, SMALL)
        for _ in range(8):  # enough runs on one connection for PostgreSQL to settle on a generic plan
            claimed, _ = await claim_reading(db)
            assert claimed == 16
        await queue_answers(db, SMALL, BURST)
        claimed, read = await claim_reading(db)
    finally:
        await db.close()
    assert claimed == 16
    # Each candidate is checked against its own key's rows through ix_outbox_rate_key_state_id: a few reads per
    # pending row at most, not one per pending row per candidate (millions).
    assert read < 10 * (SMALL + BURST)
