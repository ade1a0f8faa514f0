"""Storing at the edge: the group commit, retries within and across batches, and one bad message among many."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DataError, DBAPIError

from bot.inbound.edge import Inbox, Refused
from bot.inbox_signal import InboxSignal
from storage.db import Database, Turns
from storage.inbox import InboundMessage, ReplyRoute, insert_inbound, store_inbound, store_inbound_many, store_now
from storage.models import InboxMessage, InboxState
from tests.inbound_kit import inbox


def message(message_id: str, text: str = "10月工作进展", platform: str = "wecom") -> InboundMessage:
    return InboundMessage(
        platform=platform,
        channel="wecom_bot",
        message_id=message_id,
        sender_id="zhangsan",
        text=text,
        chat_id="wrchat01",
        chat_type="group",
        attachments=[{"kind": "image", "url": "https://x/1"}],
        reply=ReplyRoute(channel="wecom_response_url", target="wrchat01", rate_key=f"r:{message_id}", address={}),
        raw={"msgid": message_id},
    )


async def test_store_many_inserts_new_rows_and_skips_retries(db: Database) -> None:
    async with db.transaction() as session:
        first = await store_inbound_many(session, [message("a"), message("b"), message("a")])
    async with db.transaction() as session:
        second = await store_inbound_many(session, [message("b"), message("c"), message("a", platform="dingtalk")])
    assert first[0] is not None and first[1] is not None and first[2] is None
    assert second[0] is None and second[1] is not None and second[2] is not None
    rows = await inbox(db)
    assert [(r.platform, r.message_id) for r in rows] == [
        ("wecom", "a"),
        ("wecom", "b"),
        ("wecom", "c"),
        ("dingtalk", "a"),
    ]
    row = rows[0]
    assert (row.state, row.attempts, row.text, row.attachments) == (
        InboxState.PENDING,
        0,
        "10月工作进展",
        [{"kind": "image", "url": "https://x/1"}],
    )
    assert row.reply["rate_key"] == "r:a" and row.raw == {"msgid": "a"} and row.received_at.tzinfo is not None


async def test_concurrent_callbacks_share_a_transaction(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []

    async def counting(db: Database, messages: list[InboundMessage]) -> list[int | None]:
        batches.append(len(messages))
        return await store_now(db, messages)

    monkeypatch.setattr("bot.inbound.edge.store_now", counting)
    signal = InboxSignal()
    store = Inbox(signal)
    results = await asyncio.gather(
        *(store.store(db, message(f"m{n}")) for n in range(5)), store.store(db, message("m0"))
    )
    assert batches == [6]
    assert all(isinstance(r, int) for r in results[:5]) and results[5] is None
    assert signal.stored.is_set() and not signal.busy
    assert len(await inbox(db)) == 5


async def test_one_bad_message_does_not_refuse_its_neighbours(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    async def picky(db: Database, messages: list[InboundMessage]) -> list[int | None]:
        if any(m.message_id == "bad" for m in messages):
            raise DataError("INSERT", {}, ValueError("value too long"))
        return await store_now(db, messages)

    monkeypatch.setattr("bot.inbound.edge.store_now", picky)
    store = Inbox(InboxSignal())
    results = await asyncio.gather(
        store.store(db, message("good-1")),
        store.store(db, message("bad")),
        store.store(db, message("good-2")),
        return_exceptions=True,
    )
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert isinstance(results[1], Refused) and results[1].status == 503
    assert [r.message_id for r in await inbox(db)] == ["good-1", "good-2"]


async def test_the_writer_carries_on_after_a_failure(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def once_down(db: Database, messages: list[InboundMessage]) -> list[int | None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database restarting")
        return await store_now(db, messages)

    monkeypatch.setattr("bot.inbound.edge.store_now", once_down)
    store = Inbox(InboxSignal())
    with pytest.raises(Refused):
        await store.store(db, message("first"))
    assert isinstance(await store.store(db, message("first")), int)  # the platform's retry succeeds


async def test_turns_serve_urgent_waiters_first() -> None:
    turns = Turns()
    await turns.acquire()
    order: list[str] = []

    async def waiter(name: str, urgent: bool) -> None:
        await turns.acquire(urgent=urgent)
        order.append(name)
        turns.release()

    waiting = [asyncio.ensure_future(waiter(n, n in "bd")) for n in "abcd"]
    for _ in range(3):
        await asyncio.sleep(0)
    turns.release()
    await asyncio.gather(*waiting)
    assert order == ["b", "d", "a", "c"]


async def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    turns = Turns()
    await turns.acquire()
    waiting = asyncio.ensure_future(turns.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    turns.release()
    await asyncio.wait_for(turns.acquire(urgent=True), timeout=5)  # free again at once


async def test_sqlite_sessions_take_turns_without_deadlock(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:

        async def write(n: int) -> None:
            async with db.transaction(urgent=n % 2 == 0) as session:
                await store_inbound_many(session, [message(f"t{n}")])
            async with db.sessions() as session:
                assert await session.get(InboxMessage, 1) is not None

        await asyncio.gather(*(write(n) for n in range(20)))
        assert len(await inbox(db)) == 20
    finally:
        await db.close()


async def test_an_unexpected_failure_answers_503_and_never_hangs(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(db: Database, messages: list[InboundMessage]) -> list[int | None]:
        raise TypeError("not serialisable")

    monkeypatch.setattr("bot.inbound.edge.store_now", broken)
    store = Inbox(InboxSignal())
    results = await asyncio.wait_for(
        asyncio.gather(store.store(db, message("x")), store.store(db, message("y")), return_exceptions=True), timeout=30
    )
    assert all(isinstance(r, Refused) and r.status == 503 for r in results)
    assert await inbox(db) == []


async def test_a_lock_held_by_another_process_does_not_stop_the_loop(sqlite_url: str) -> None:
    """The edge writes on the event loop only when SQLite's write lock is free; while another process holds it,
    the write waits in a thread and the loop goes on answering."""
    db = Database(sqlite_url)
    other = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    try:
        assert await db.write_at_once(partial(insert_inbound, messages=[message("before")])) == [1]
        other.execute("BEGIN IMMEDIATE")  # as `duban import` in another process would
        waiting = asyncio.create_task(db.write_at_once(partial(insert_inbound, messages=[message("during")])))
        loop_ran = asyncio.Event()
        asyncio.get_running_loop().call_soon(loop_ran.set)
        await loop_ran.wait()
        await asyncio.sleep(0)
        assert not waiting.done()  # not refused, not written: waiting for the lock, off the loop
        other.execute("COMMIT")
        assert await waiting == [2]
        assert [(row.message_id, row.state) for row in await inbox(db)] == [
            ("before", InboxState.PENDING),
            ("during", InboxState.PENDING),
        ]
    finally:
        other.close()
        await db.close()


async def test_the_driver_level_insert_writes_what_the_orm_writes(sqlite_url: str) -> None:
    """SQLite rows stored by the edge's plain SQL are the rows the ORM would store, column for column."""
    db = Database(sqlite_url)
    sent_at = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)  # a whole second: SQLAlchemy still writes the microseconds
    edge = replace(message("edge", text="含\u3000全角空格与 emoji 😀"), sent_at=sent_at)
    orm = replace(edge, message_id="orm")
    try:
        await db.write_at_once(partial(insert_inbound, messages=[edge]))
        async with db.transaction() as session:
            await store_inbound(session, orm)
        with sqlite3.connect(make_url(sqlite_url).database or "") as plain:
            plain.row_factory = sqlite3.Row
            rows = [dict(row) for row in plain.execute("SELECT * FROM inbox ORDER BY id")]
        for row in rows:
            del row["id"], row["message_id"], row["received_at"]
            row["reply"] = row["reply"].replace("r:edge", "r:orm")
        assert rows[0] == rows[1]
    finally:
        await db.close()


async def test_the_group_insert_stores_what_the_orm_stores(db: Database) -> None:
    """On either backend, a message stored by the edge's group insert reads back as the ORM's own row does."""
    sent_at = datetime(2026, 12, 4, 8, 30, 5, 120000, tzinfo=UTC)
    edge = replace(message("edge", text="含\u3000全角空格与 emoji 😀"), sent_at=sent_at, quoted="上期 月报#3")
    orm = replace(edge, message_id="orm", reply=replace(edge.reply, rate_key="r:edge"))
    assert await store_now(db, [edge, edge]) == [1, None]
    async with db.transaction() as session:
        await store_inbound(session, orm)
    stored, written = await inbox(db)
    columns = [c.key for c in InboxMessage.__table__.columns if c.key not in ("id", "message_id", "received_at")]
    assert {c: getattr(stored, c) for c in columns} == {c: getattr(written, c) for c in columns}
    assert stored.sent_at == sent_at and stored.state is InboxState.PENDING and stored.received_at.tzinfo is not None


async def test_a_refusal_by_the_database_is_a_database_error_without_the_values(db: Database) -> None:
    """What the database refuses is reported as SQLAlchemy reports it, on the driver-level PostgreSQL insert too
    (the edge answers 503 and stores the batch's other messages one by one), and holds no value a person wrote."""
    no_sender = replace(message("y", text="机密的报送内容"), sender_id=None)  # as a parser's bug would leave it
    with pytest.raises(DBAPIError) as refused:
        await store_now(db, [no_sender])
    assert "机密" not in str(refused.value)
    assert await inbox(db) == []


async def test_the_edge_leaves_checkpoints_to_the_other_connections(sqlite_url: str) -> None:
    """The edge's connection on the event loop never copies the WAL back (its commits stay short); the sessions'
    connections, which the worker and the dispatcher commit on after every step, keep SQLite's default."""
    db = Database(sqlite_url)
    try:

        def autocheckpoint(connection: Connection) -> int:
            return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

        assert await db.write_at_once(autocheckpoint) == 0
        async with db.transaction() as session:
            assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 1000
    finally:
        await db.close()
