"""The inbox worker: claims, leases, crash recovery, failures, wake-ups, shutdown, and two instances at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import create_app
from bot.context import AppContext
from bot.inbound import inbound_channels
from bot.inbox_signal import BURST_CALLBACKS, BURST_PACE, BURST_SHARE, InboxSignal
from bot.inbox_worker import MAX_ATTEMPTS, claim_next, drain, inbox_worker, process_one
from storage.db import Database
from storage.inbox import InboundMessage, ReplyRoute, store_inbound
from storage.models import AuditEntry, InboxMessage, InboxState
from storage.policy import Policy
from tests.inbound_kit import inbox, settings_for

Client = Callable[..., Awaitable[TestClient]]


def context(db: Database, instance: str = "test:1") -> AppContext:
    return AppContext(settings=settings_for(db.url), db=db, instance_id=instance)


async def stored(db: Database, count: int = 1, *, prefix: str = "m") -> list[int]:
    ids = []
    async with db.transaction() as session:
        for n in range(count):
            message = InboundMessage(
                platform="sandbox",
                channel="sandbox",
                message_id=f"{prefix}{n}",
                sender_id="1",
                text=f"第{n}条",
                reply=ReplyRoute(channel="sandbox", target="dm:1", rate_key="sandbox:dm:1", address={"chat": "dm:1"}),
            )
            row = await store_inbound(session, message)
            assert row is not None
            ids.append(row.id)
    return ids


class Recorder:
    """A handler that records what it was given and writes something, as a real handler would."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.handled: list[tuple[int, str, datetime]] = []
        self.fail_on = fail_on or set()

    async def __call__(self, session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
        assert isinstance(policy, Policy) and now.tzinfo is not None
        session.add(AuditEntry(action="test", detail=row.message_id, inbox_id=row.id))
        await session.flush()
        if row.message_id in self.fail_on:
            raise ValueError(f"cannot parse {row.message_id}")
        self.handled.append((row.id, row.message_id, now))


class Apologies:
    def __init__(self, fail: bool = False) -> None:
        self.rows: list[tuple[int, str, str | None]] = []
        self.fail = fail

    async def __call__(self, session: AsyncSession, row: InboxMessage, policy: Policy) -> None:
        self.rows.append((row.id, row.state, row.error))
        session.add(AuditEntry(action="apology", inbox_id=row.id))
        if self.fail:
            raise RuntimeError("outbox unavailable")


async def audits(db: Database) -> list[tuple[str, str]]:
    async with db.sessions() as session:
        return [(a.action, a.detail) for a in (await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))]


async def test_rows_are_handled_in_order_and_marked_done(db: Database) -> None:
    ids = await stored(db, 3)
    handler = Recorder()
    assert await drain(context(db), handle=handler, apologize=Apologies()) == 3
    assert [h[0] for h in handler.handled] == ids
    rows = await inbox(db)
    assert all(r.state == InboxState.DONE and r.handled_at and r.locked_by is None for r in rows)
    assert [r.attempts for r in rows] == [1, 1, 1]
    assert await audits(db) == [("test", "m0"), ("test", "m1"), ("test", "m2")]
    assert await drain(context(db), handle=handler) == 0


async def test_a_failure_rolls_back_marks_failed_and_apologises(db: Database) -> None:
    await stored(db, 2)
    handler, apologies = Recorder(fail_on={"m0"}), Apologies()
    assert await drain(context(db), handle=handler, apologize=apologies) == 2
    failed, done = await inbox(db)
    assert failed.state == InboxState.FAILED and done.state == InboxState.DONE
    assert failed.error is not None and "ValueError: cannot parse m0" in failed.error
    assert failed.locked_by is None and failed.handled_at is not None
    assert apologies.rows == [(failed.id, InboxState.FAILED, failed.error)]
    # The failing handler's own writes were rolled back; the apology's were committed.
    assert await audits(db) == [("apology", ""), ("test", "m1")]


async def test_a_failing_apology_still_leaves_the_row_failed(db: Database) -> None:
    await stored(db, 1)
    assert await drain(context(db), handle=Recorder(fail_on={"m0"}), apologize=Apologies(fail=True)) == 1
    [row] = await inbox(db)
    assert row.state == InboxState.FAILED and "cannot parse" in (row.error or "")
    assert await audits(db) == []


async def test_a_row_left_processing_by_a_dead_instance_is_taken_after_its_lease(db: Database) -> None:
    dead, live = context(db, "dead:1"), context(db, "live:1")
    [row_id] = await stored(db, 1)
    start = datetime.now(UTC)
    assert await claim_next(dead, now=start) == row_id  # ... and then the instance dies
    assert await drain(live, handle=Recorder()) == 0  # its lease still runs
    [row] = await inbox(db)
    assert (row.state, row.locked_by) == (InboxState.PROCESSING, "dead:1")
    async with db.transaction() as session:  # time passes: the lease runs out
        await session.execute(update(InboxMessage).values(locked_until=start - timedelta(seconds=1)))
    handler = Recorder()
    assert await drain(live, handle=handler) == 1
    [row] = await inbox(db)
    assert (row.state, row.attempts, handler.handled[0][0]) == (InboxState.DONE, 2, row_id)


async def test_a_row_that_keeps_killing_its_workers_is_failed_not_retried_forever(db: Database) -> None:
    [row_id] = await stored(db, 1)
    async with db.transaction() as session:
        await session.execute(update(InboxMessage).values(attempts=MAX_ATTEMPTS))
    handler, apologies = Recorder(), Apologies()
    assert await drain(context(db), handle=handler, apologize=apologies) == 1
    [row] = await inbox(db)
    assert row.state == InboxState.FAILED and "多次中断" in (row.error or "")
    assert handler.handled == [] and [a[0] for a in apologies.rows] == [row_id]


async def test_process_one_handles_exactly_the_given_row(db: Database) -> None:
    first, second = await stored(db, 2)
    handler = Recorder()
    assert await process_one(context(db), second, handle=handler)
    assert await process_one(context(db), second, handle=handler) is False  # already done
    assert [h[0] for h in handler.handled] == [second]
    states = {r.id: r.state for r in await inbox(db)}
    assert states == {first: InboxState.PENDING, second: InboxState.DONE}


async def test_a_row_claimed_elsewhere_is_left_to_its_holder(db: Database) -> None:
    [row_id] = await stored(db, 1)
    assert await claim_next(context(db, "other:1"), now=datetime.now(UTC)) == row_id
    assert await process_one(context(db), row_id, handle=Recorder()) is False
    [row] = await inbox(db)
    assert (row.state, row.locked_by) == (InboxState.PROCESSING, "other:1")


async def test_two_instances_never_handle_one_row_twice(db: Database) -> None:
    """Two engines (as two processes would have) drain one inbox concurrently."""
    first_db, second_db = db, Database(db.url)
    try:
        ids = set(await stored(first_db, 60))
        seen: list[tuple[str, int]] = []

        def recorder(name: str) -> Callable[[AsyncSession, InboxMessage, Policy, datetime], Awaitable[None]]:
            async def handle(session: AsyncSession, row: InboxMessage, _policy: Policy, _now: datetime) -> None:
                seen.append((name, row.id))
                session.add(AuditEntry(action="handled", detail=name, inbox_id=row.id))
                await asyncio.sleep(0)

            return handle

        counts = await asyncio.gather(
            drain(context(first_db, "a:1"), handle=recorder("a")),
            drain(context(second_db, "b:1"), handle=recorder("b")),
        )
        handled = [row_id for _, row_id in seen]
        assert sorted(handled) == sorted(ids)  # every row once, none twice
        assert sum(counts) == len(ids)
        assert {row.state for row in await inbox(first_db)} == {InboxState.DONE}
        assert len(await audits(first_db)) == len(ids)
    finally:
        await second_db.close()


async def test_the_worker_wakes_when_the_edge_stores_and_drains_on_shutdown(
    aiohttp_client: Client, db: Database
) -> None:
    signal = InboxSignal()
    handled = asyncio.Event()
    release = asyncio.Event()
    seen: list[str] = []

    async def slow_handler(_session: AsyncSession, row: InboxMessage, _policy: Policy, _now: datetime) -> None:
        seen.append(row.message_id)
        handled.set()
        await release.wait()

    stop_requested: list[asyncio.Event] = []

    async def worker(ctx: AppContext, stopping: asyncio.Event) -> None:
        stop_requested.append(stopping)
        # A poll interval of an hour: only the wake-up can start the work within this test.
        await inbox_worker(ctx, stopping, signal=signal, handle=slow_handler, poll_seconds=3600)

    settings = settings_for(db.url)
    app = create_app(settings, db=db, channels=inbound_channels(settings, signal), workers=[("inbox", worker)])
    client = await aiohttp_client(app)
    body = {"person_id": 1, "text": "10月工作进展", "message_id": "wake-1"}
    assert (await client.post("/sandbox/messages", json=body)).status == 200
    await handled.wait()
    assert seen == ["wake-1"]
    closing = asyncio.ensure_future(client.close())  # shutdown begins while the row is in hand
    await stop_requested[0].wait()
    release.set()
    await closing
    [row] = await inbox(db)
    assert row.state == InboxState.DONE


async def test_the_worker_survives_an_unreachable_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await stored(db, 1)
    stopping = asyncio.Event()
    original = db.transaction
    calls = 0

    def flaky() -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection refused")
        return original()

    async def handle_then_stop(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
        stopping.set()

    monkeypatch.setattr(db, "transaction", flaky)
    await inbox_worker(context(db), stopping, handle=handle_then_stop, poll_seconds=0, error_backoff=0)
    monkeypatch.undo()
    [row] = await inbox(db)
    assert row.state == InboxState.DONE and calls > 1


async def test_the_worker_gives_way_to_callbacks_being_stored(db: Database) -> None:
    """While the edge stores a callback, the worker waits (within a bound) before taking the next row."""
    await stored(db, 1)
    signal = InboxSignal()
    handler = Recorder()
    with signal.storing():
        draining = asyncio.ensure_future(drain(context(db), handle=handler, signal=signal))
        for _ in range(20):
            await asyncio.sleep(0)
        assert handler.handled == [] and not draining.done()
    assert await draining == 1


async def test_giving_way_is_bounded(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await stored(db, 1)
    monkeypatch.setattr("bot.inbox_worker.GIVE_WAY_SECONDS", 0)
    signal = InboxSignal()
    with signal.storing():  # a flood that never ends must not starve the worker
        assert await drain(context(db), handle=Recorder(), signal=signal) == 1


async def test_during_a_burst_the_worker_keeps_a_modest_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    async def recorded(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr("bot.inbox_signal.asyncio.sleep", recorded)
    signal = InboxSignal()
    signal.note_stored()
    assert signal.stored.is_set()
    await signal.give_way(within=1)
    assert pauses == []  # ordinary traffic: no pause
    for _ in range(BURST_CALLBACKS):
        signal.note_stored()
    await signal.give_way(within=1)
    assert pauses == [BURST_PACE]
    await signal.give_way(within=1, spent=0.02)  # a step of 20 ms: it rests so as to keep to its share
    assert pauses[-1] == pytest.approx(0.02 * (1 / BURST_SHARE - 1))
    assert 0.02 / (0.02 + pauses[-1]) == pytest.approx(BURST_SHARE)
