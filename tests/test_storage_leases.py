"""Connection leases on SQLite and PostgreSQL: one holder at a time, takeover once the lease lapses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.leases import acquire, release, renew

TTL = timedelta(seconds=20)
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def attempt(db: Database, me: str, now: datetime) -> tuple[bool, str, str | None]:
    async with db.transaction() as session:
        state = await acquire(session, "wecom_bot:b1", me, ttl=TTL, now=now)
    return state.held_by_me, state.holder, state.took_over_from


async def test_one_holder_then_a_takeover_after_the_lease_lapses(db: Database) -> None:
    assert await attempt(db, "a", T0) == (True, "a", None)
    assert await attempt(db, "b", T0 + timedelta(seconds=5)) == (False, "a", None)
    async with db.transaction() as session:
        assert await renew(session, "wecom_bot:b1", "a", ttl=TTL, now=T0 + timedelta(seconds=10))
    assert await attempt(db, "b", T0 + timedelta(seconds=29)) == (False, "a", None)  # renewed at +10: until +30
    assert await attempt(db, "b", T0 + timedelta(seconds=31)) == (True, "b", "a")
    async with db.transaction() as session:
        assert not await renew(session, "wecom_bot:b1", "a", ttl=TTL, now=T0 + timedelta(seconds=32))
        await release(session, "wecom_bot:b1", "b", now=T0 + timedelta(seconds=33))
    assert await attempt(db, "a", T0 + timedelta(seconds=34)) == (True, "a", "b")


async def test_instances_racing_for_a_new_lease_get_exactly_one_holder(db: Database) -> None:
    results = await asyncio.gather(*(attempt(db, f"i{n}", T0) for n in range(6)))
    holders = [me for me, (held, _holder, _from) in zip([f"i{n}" for n in range(6)], results, strict=True) if held]
    assert len(holders) == 1
