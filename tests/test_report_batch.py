"""The inbox worker's batch path (handlers.report_batch) leaves exactly what the one-message path leaves, in the
same order, and a failure or a crash in the middle of a batch leaves nothing half-written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from handlers_kit import local, seed
from sqlalchemy import delete, event, select, update

import handlers.report_batch
from bot.inbox_worker import claim_batch, drain, handle_batch, inbox_worker, process_one
from storage.db import Database
from storage.inbox import InboundMessage, ReplyRoute, store_inbound_many
from storage.models import (
    AuditEntry,
    Base,
    Group,
    GroupMember,
    InboxMessage,
    InboxState,
    OutboxMessage,
    PendingAction,
    Person,
    Round,
    StoredFile,
    Submission,
)
from tests.conftest import truncate_all
from tests.test_inbound_worker import context

AT = local(2026, 11, 20, 10, 30)


def message(number: int, sender: str, text: str, **fields: Any) -> InboundMessage:
    chat = fields.pop("chat", "强省会工作机制群")
    return InboundMessage(
        platform="sandbox",
        channel="sandbox",
        message_id=f"m{number}",
        sender_id=sender,
        text=text,
        chat_id=chat,
        chat_type=fields.pop("chat_type", "group"),
        reply=ReplyRoute(channel="sandbox", target=chat, rate_key=f"sandbox:{chat}", address={"chat": chat}),
        **fields,
    )


async def scenario(db: Database) -> list[int]:
    """A roster, a collection asking one unit, and a mixed burst: plain reports (two units reporting twice, a
    supplement with and without an earlier version, past-month markers, a file mentioned in a group) among
    messages only the one-message path takes (a command, an unknown sender, a courtesy, a refused period, a round
    answer, text from a unit a collection asks, an image, a marker without content). Their inbox ids."""
    roster = await seed(db)
    async with db.transaction() as session:
        special = Group(name="专项工作组", platform="sandbox")
        session.add(special)
        await session.flush()
        session.add(GroupMember(group_id=special.id, person_id=roster.reform_liaison.id))
        session.add(Round(title="专项联系人", fields=["姓名", "职务"], group="专项工作组", deadline=AT, code="RTEST1"))
    liaison, deputy, reform = (str(p.id) for p in (roster.liaison, roster.deputy, roster.reform_liaison))
    office = str(roster.office.id)
    async with db.transaction() as session:
        industry = str((await session.scalars(select(Person.id).where(Person.unit_id == roster.industry.id))).one())
    messages = [
        message(1, liaison, "我厅10月组织外贸企业参加广交会，签约金额12亿元。"),
        message(2, deputy, "更正稿：签约金额12.5亿元，新增两家企业。"),
        message(3, industry, "补充：新增技改项目三个。"),
        message(4, office, "统计"),
        message(5, "999999", "你好，我想报送材料"),
        message(6, industry, "收到，谢谢！"),
        message(7, liaison, "补充：另有一家企业签约。"),
        message(8, reform, "本月重点项目推进顺利。"),
        message(9, deputy, "9月：补报九月份工作情况。"),
        message(10, industry, "12月工作计划：继续推进。"),
        message(11, liaison, "工作进展详见附件，请查收。"),
        message(12, reform, "#1 姓名：王强 职务：处长"),
        message(13, deputy, "", msgtype="image", attachments=[{"media_id": "img-1"}], chat_type="single"),
        message(14, industry, "10月"),
        message(15, deputy, "@机器人 十月份第三稿：外贸进出口增长8%。"),
        message(16, industry, "我厅10月推进制造业数字化转型。"),
    ]
    with time_machine.travel(AT, tick=False):
        async with db.transaction() as session:
            ids = await store_inbound_many(session, messages)
    return [row_id for row_id in ids if row_id is not None]


async def snapshot(db: Database) -> dict[str, list[Any]]:
    async with db.sessions() as session:

        async def rows(*columns: Any) -> list[Any]:
            return [tuple(row) for row in await session.execute(select(*columns).order_by(columns[0]))]

        return {
            "inbox": await rows(InboxMessage.id, InboxMessage.state, InboxMessage.person_id, InboxMessage.error),
            "versions": await rows(
                Submission.id,
                Submission.unit_id,
                Submission.period,
                Submission.version,
                Submission.text,
                Submission.is_supplement,
                Submission.on_time,
                Submission.person_id,
                Submission.inbox_id,
                Submission.received_at,
            ),
            "attachments": await rows(Submission.id, Submission.attachments),
            "outbox": await rows(
                OutboxMessage.id,
                OutboxMessage.inbox_id,
                OutboxMessage.channel,
                OutboxMessage.target,
                OutboxMessage.rate_key,
                OutboxMessage.origin,
                OutboxMessage.group_id,
                OutboxMessage.dedupe_key,
            ),
            "bodies": await rows(OutboxMessage.id, OutboxMessage.message, OutboxMessage.address),
            "audit": await rows(
                AuditEntry.id, AuditEntry.action, AuditEntry.detail, AuditEntry.outcome, AuditEntry.inbox_id
            ),
            "held": await rows(PendingAction.code, PendingAction.kind, PendingAction.payload, PendingAction.person_id),
            "files": await rows(StoredFile.id, StoredFile.kind, StoredFile.unit_id, StoredFile.period),
        }


async def reset(db: Database) -> None:
    if db.dialect == "postgresql":
        await truncate_all(db)
        return
    async with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


async def test_a_batch_leaves_exactly_what_one_message_at_a_time_leaves(db: Database) -> None:
    ids = await scenario(db)
    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        for row_id in ids:
            assert await process_one(context(db), row_id)
    one_by_one = await snapshot(db)
    await reset(db)
    assert await scenario(db) == ids
    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        assert await drain(context(db)) == len(ids)
    assert await snapshot(db) == one_by_one
    assert {state for _, state, _, _ in one_by_one["inbox"]} == {InboxState.DONE}
    versions = [
        (inbox_id, period, version) for _, _, period, version, _, _, _, _, inbox_id, _ in one_by_one["versions"]
    ]
    number = {row_id: n for n, row_id in enumerate(ids, start=1)}
    assert [(number[inbox_id], period, version) for inbox_id, period, version in versions] == [
        (1, "2026-10", 1),  # 省商务厅
        (2, "2026-10", 2),
        (3, "2026-10", 1),  # 省工业和信息化厅: a supplement with nothing before it
        (7, "2026-10", 3),  # merged into version 2
        (9, "2026-09", 1),
        (10, "2025-12", 1),  # 12月 read as last December
        (11, "2026-10", 4),
        (15, "2026-10", 5),
        (16, "2026-10", 2),
    ]
    assert [(code, payload["inbox_id"]) for code, _, payload, _ in one_by_one["held"]] == [("H8", ids[7])]
    audits = [
        (number[inbox_id], action, detail, outcome) for _, action, detail, outcome, inbox_id in one_by_one["audit"]
    ]
    assert [(n, outcome) for n, action, _, outcome in audits if action != "报送" or outcome not in ("ok", "late")] == [
        (4, "ok"),  # 统计
        (5, "unknown_sender"),
        (8, "ambiguous"),
        (12, "late"),  # a collection's answer
    ]
    assert [
        (n, detail, outcome) for n, action, detail, outcome in audits if action == "报送" and outcome != "ambiguous"
    ] == [
        (1, "省商务厅 2026年10月 月报#2 第1版", "ok"),  # every version filed is audited, once, in arrival order
        (2, "省商务厅 2026年10月 月报#2 第2版", "ok"),
        (3, "省工业和信息化厅 2026年10月 月报#2 第1版", "ok"),
        (7, "省商务厅 2026年10月 月报#2 第3版（补充）", "ok"),
        (9, "省商务厅 2026年9月 月报#3 第1版", "late"),
        (10, "省工业和信息化厅 2025年12月 月报#4 第1版", "late"),
        (11, "省商务厅 2026年10月 月报#2 第4版", "ok"),
        (15, "省商务厅 2026年10月 月报#2 第5版", "ok"),
        (16, "省工业和信息化厅 2026年10月 月报#2 第2版", "ok"),
    ]


async def test_a_batch_that_fails_midway_is_handled_again_row_by_row(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await scenario(db)
    failed: list[int] = []
    real = handlers.report_batch.reply_values

    def failing(row: InboxMessage, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if row.message_id == "m15":
            failed.append(row.id)
            raise RuntimeError("the database went away")
        return real(row, *args, **kwargs)

    monkeypatch.setattr(handlers.report_batch, "reply_values", failing)
    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        assert await drain(context(db)) == len(ids)
    assert failed  # the batch path failed on it, rolled back, and every row was then handled on its own
    state = await snapshot(db)
    assert {row_state for _, row_state, _, _ in state["inbox"]} == {InboxState.DONE}
    confirmed = [inbox_id for _, inbox_id, *_ in state["outbox"]]
    assert sorted(confirmed) == sorted(set(confirmed))  # no message answered twice
    versions = [(unit, period, version) for _, unit, period, version, *_ in state["versions"]]
    assert len(versions) == len(set(versions)) == 9


async def test_a_crash_in_the_middle_of_a_batch_leaves_it_to_be_taken_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await scenario(db)
    dead = context(db, "dead:1")

    def killed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise asyncio.CancelledError  # as when the process is stopped while the batch's transaction is open

    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        held = await claim_batch(dead, now=datetime.now(UTC))
        assert len(held) > 1
        monkeypatch.setattr(handlers.report_batch, "reply_values", killed)
        with pytest.raises(asyncio.CancelledError):
            await handle_batch(dead, held)
        monkeypatch.undo()
        async with db.sessions() as session:
            assert await session.scalar(select(Submission.id).limit(1)) is None  # nothing half-written
        async with db.transaction() as session:  # the dead instance's leases run out
            await session.execute(update(InboxMessage).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
        assert await drain(context(db, "live:1")) == len(ids)
    state = await snapshot(db)
    assert {row_state for _, row_state, _, _ in state["inbox"]} == {InboxState.DONE}
    assert len(state["versions"]) == 9


async def test_unknown_senders_in_a_batch_cost_no_roster_query_of_their_own(db: Database) -> None:
    roster = await seed(db)
    liaison = str(roster.liaison.id)
    strangers = [message(n, f"{900000 + n}", "你好，我想报送材料") for n in range(1, 13)]
    burst = [*strangers[:6], message(20, liaison, "我厅10月组织外贸企业参加广交会。"), *strangers[6:]]
    with time_machine.travel(AT, tick=False):
        async with db.transaction() as session:
            ids = [row_id for row_id in await store_inbound_many(session, burst) if row_id is not None]
    roster_queries: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM person" in statement:
            roster_queries.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        with time_machine.travel(AT + timedelta(minutes=1), tick=False):
            assert await drain(context(db)) == len(ids)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(roster_queries) == 1  # the batch's one look-up of every sender
    state = await snapshot(db)
    assert {row_state for _, row_state, _, _ in state["inbox"]} == {InboxState.DONE}
    told = [inbox_id for _, _, _, outcome, inbox_id in state["audit"] if outcome == "unknown_sender"]
    assert told == [row_id for row_id in ids if row_id != ids[6]]  # each stranger answered once, in arrival order
    assert sorted(inbox_id for _, inbox_id, *_ in state["outbox"]) == ids  # and the liaison's report confirmed
    assert [inbox_id for *_, inbox_id, _ in state["versions"]] == [ids[6]]


async def test_the_service_worker_files_a_burst_of_reports_together(db: Database) -> None:
    """``duban serve``'s worker takes the batch path too, not only :func:`drain` as the benchmark calls it."""
    await scenario(db)
    ctx = context(db)
    per_insert: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO submission"):
            per_insert.append(len(parameters) if executemany else 1)

    async def settled() -> bool:
        async with db.sessions() as session:
            states = set(await session.scalars(select(InboxMessage.state)))
        return states == {InboxState.DONE}

    stopping = asyncio.Event()
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        with time_machine.travel(AT + timedelta(minutes=1), tick=False):
            worker = asyncio.create_task(inbox_worker(ctx, stopping, poll_seconds=3600))
            while not await settled():
                await ctx.outbox_queued.wait()  # set after each batch the worker settles
                ctx.outbox_queued.clear()
            stopping.set()
            await worker
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert sum(per_insert) == 9  # the scenario's versions, each filed once
    assert max(per_insert) > 1  # reports in a row were filed in one statement
