"""The inbox worker's batches: one transaction for many rows, each sender's order kept, a failure isolated,
a dead instance's batch taken over, and the index that keeps the sender check cheap migrated with data."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbox_signal import InboxSignal
from bot.inbox_worker import BATCH, claim_batch, drain, handle_batch
from storage import migrate
from storage.db import Database
from storage.inbox import InboundMessage, ReplyRoute, store_inbound_many
from storage.models import AuditEntry, InboxMessage, InboxState
from storage.policy import Policy
from tests.test_inbound_worker import Apologies, Recorder, audits, context


def message(message_id: str, sender: str) -> InboundMessage:
    chat = f"dm:{sender}"
    return InboundMessage(
        platform="sandbox",
        channel="sandbox",
        message_id=message_id,
        sender_id=sender,
        text=f"{sender} 的第 {message_id} 条",
        reply=ReplyRoute(channel="sandbox", target=chat, rate_key=f"sandbox:{chat}", address={"chat": chat}),
    )


async def store(db: Database, *pairs: tuple[str, str]) -> list[int]:
    """Store (message id, sender) pairs in this order; their inbox ids."""
    async with db.transaction() as session:
        ids = await store_inbound_many(session, [message(message_id, sender) for message_id, sender in pairs])
    assert None not in ids
    return [row_id for row_id in ids if row_id is not None]


async def store_as_0001(db: Database, *pairs: tuple[str, str]) -> list[int]:
    """Store (message id, sender) pairs in the inbox as schema 0001 had it (today's code writes later columns)."""
    ids = []
    async with db.engine.begin() as connection:
        for message_id, sender in pairs:
            stored = message(message_id, sender)
            inserted = await connection.execute(
                text(
                    "INSERT INTO inbox (platform, channel, message_id, sender_id, sender_name, chat_id, chat_type,"
                    " msgtype, text, attachments, reply, raw, received_at, state, attempts) VALUES ('sandbox',"
                    " 'sandbox', :id, :sender, '', :chat, 'single', 'text', :text, '[]', :reply, '{}',"
                    " CURRENT_TIMESTAMP, 'pending', 0) RETURNING id"
                ),
                {
                    "id": message_id,
                    "sender": sender,
                    "chat": stored.reply.target,
                    "text": stored.text,
                    "reply": json.dumps(stored.reply.as_dict()),
                },
            )
            ids.append(int(inserted.scalar_one()))
    return ids


async def test_a_batch_runs_until_a_senders_second_message(db: Database) -> None:
    ids = await store(db, ("a1", "1"), ("b1", "2"), ("a2", "1"), ("c1", "3"))
    first = await claim_batch(context(db), now=datetime.now(UTC))
    assert first == ids[:2]  # "a2" waits for "a1" to be settled, and so does everything after it
    assert await handle_batch(context(db), first, handle=Recorder()) == 2
    assert await claim_batch(context(db), now=datetime.now(UTC)) == ids[2:]


async def test_a_burst_is_handled_in_arrival_order_in_batches(db: Database) -> None:
    pairs = [(f"m{n}", str(n % 5)) for n in range(3 * BATCH)]
    ids = await store(db, *pairs)
    handler = Recorder()
    assert await drain(context(db), handle=handler, apologize=Apologies()) == len(ids)
    assert [row_id for row_id, _, _ in handler.handled] == ids
    assert await audits(db) == [("test", message_id) for message_id, _ in pairs]
    rows = await all_rows(db)
    assert {row.state for row in rows} == {InboxState.DONE} and {row.attempts for row in rows} == {1}


async def test_a_batch_commits_row_by_row_while_the_edge_waits_to_write(db: Database) -> None:
    ids = await store(db, ("a1", "1"), ("b1", "2"), ("c1", "3"), ("d1", "4"))
    transactions: list[AsyncSession] = []  # kept alive, so that their ids cannot be reused

    async def handler(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
        transactions.append(session)  # each transaction of the batch has a session of its own
        session.add(AuditEntry(action="test", detail=row.message_id, inbox_id=row.id))

    assert await handle_batch(context(db), await claim_batch(context(db), now=datetime.now(UTC)), handle=handler) == 4
    assert len({id(session) for session in transactions}) == 1  # nobody waiting: one transaction
    ids += await store(db, ("e1", "5"), ("f1", "6"), ("g1", "7"))
    signal, transactions = InboxSignal(), []
    held = await claim_batch(context(db), now=datetime.now(UTC))
    with signal.storing():  # a callback is waiting to be stored the whole time
        assert await handle_batch(context(db), held, handle=handler, signal=signal) == 3
    assert len({id(session) for session in transactions}) == 3  # a commit after every row, in order, each row once
    assert await audits(db) == [("test", f"{letter}1") for letter in "abcdefg"]
    assert {row.state for row in await all_rows(db)} == {InboxState.DONE}


async def test_a_failing_row_fails_alone_and_its_neighbours_commit_once(db: Database) -> None:
    ids = await store(db, ("m0", "1"), ("m1", "2"), ("m2", "3"))
    handler, apologies = Recorder(fail_on={"m1"}), Apologies()
    assert await drain(context(db), handle=handler, apologize=apologies) == 3
    states = {row.id: row.state for row in await all_rows(db)}
    assert states == {ids[0]: InboxState.DONE, ids[1]: InboxState.FAILED, ids[2]: InboxState.DONE}
    assert [row_id for row_id, _ in [(a[0], a[1]) for a in apologies.rows]] == [ids[1]]
    # The batch was rolled back whole and its rows handled again one by one: every effect exists once.
    assert await audits(db) == [("test", "m0"), ("apology", ""), ("test", "m2")]


async def test_another_instance_passes_over_a_sender_whose_earlier_message_is_in_hand(db: Database) -> None:
    ids = await store(db, ("a1", "1"), ("a2", "1"), ("b1", "2"))
    holder, other = context(db, "holder:1"), context(db, "other:1")
    now = datetime.now(UTC)
    assert await claim_batch(holder, now=now, limit=1) == ids[:1]
    assert await claim_batch(other, now=now) == ids[2:]  # "a2" must wait for "a1", held by the other instance


async def test_a_dead_instances_batch_is_taken_over_after_its_lease(db: Database) -> None:
    ids = await store(db, ("a1", "1"), ("b1", "2"), ("a2", "1"))
    dead, live = context(db, "dead:1"), context(db, "live:1")
    start = datetime.now(UTC)
    assert await claim_batch(dead, now=start) == ids[:2]  # ... and then the instance dies
    handler = Recorder()
    assert await drain(live, handle=handler) == 0  # its leases still run, and "a2" waits behind "a1"
    async with db.transaction() as session:
        await session.execute(update(InboxMessage).values(locked_until=start - timedelta(seconds=1)))
    assert await drain(live, handle=handler) == 3
    assert [row_id for row_id, _, _ in handler.handled] == ids
    assert {row.state for row in await all_rows(db)} == {InboxState.DONE}


async def test_a_row_taken_by_another_instance_meanwhile_is_left_to_it(db: Database) -> None:
    ids = await store(db, ("a1", "1"), ("b1", "2"))
    slow = context(db, "slow:1")
    assert await claim_batch(slow, now=datetime.now(UTC)) == ids
    async with db.transaction() as session:  # its lease ran out and another instance holds the first row now
        await session.execute(update(InboxMessage).where(InboxMessage.id == ids[0]).values(locked_by="fast:1"))

    async def handler(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
        session.add(AuditEntry(action="test", detail=row.message_id, inbox_id=row.id))

    assert await handle_batch(slow, ids, handle=handler) == 1
    assert await audits(db) == [("test", "b1")]


async def all_rows(db: Database) -> list[InboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(InboxMessage).order_by(InboxMessage.id)))


def _inbox_indexes(connection: Connection) -> set[str]:
    return {index["name"] or "" for index in inspect(connection).get_indexes("inbox")}


async def test_the_sender_index_migrates_a_database_with_messages_in_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(migrate.upgrade, url, "0001")
    db = Database(url)
    try:
        ids = await store_as_0001(db, ("a1", "1"), ("b1", "2"), ("a2", "1"))
        await asyncio.to_thread(migrate.upgrade, url)
        async with db.engine.connect() as connection:
            assert "ix_inbox_sender_unsettled" in await connection.run_sync(_inbox_indexes)
        assert [row.id for row in await all_rows(db)] == ids
        assert await drain(context(db), handle=Recorder()) == 3
        await asyncio.to_thread(migrate.downgrade, url, "0001")
        async with db.engine.connect() as connection:
            assert "ix_inbox_sender_unsettled" not in await connection.run_sync(_inbox_indexes)
    finally:
        await db.close()
