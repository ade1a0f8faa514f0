"""The sandbox chat in this process: ``duban say`` when no service takes it, and ``duban sandbox show``.

Without a service (or with its sandbox off) ``say`` runs the pipeline here: name the person, store, handle with
the inbox worker's :func:`~bot.inbox_worker.process_one`, send the sandbox replies once, and read what the bot
said. It loads the database layer, which the round trip through a service (:mod:`bot.cli.say`) does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.cli.base import CliError, open_checked
from bot.cli.say import Reply, Said, shown
from bot.config import Settings
from storage.db import Database
from storage.models import InboxMessage, Person, SandboxMessage
from storage.sandbox import SpeakerUnclear, latest_transcript_id, resolve_speaker, transcript_since, wait_until_settled


@dataclass(frozen=True)
class Line:
    """One line of a sandbox chat, from either side."""

    at: datetime
    chat: str
    speaker: str
    text: str


async def say_here(settings: Settings, who: str, group: str | None, text: str, wait_seconds: float) -> Said:
    db = await open_checked(settings)
    try:
        async with db.sessions() as session:
            try:
                person = await resolve_speaker(session, who)
            except SpeakerUnclear as exc:
                raise CliError(str(exc)) from None
            before = await latest_transcript_id(session)
        complete = await run_in_process(
            settings, db, {"person_id": person.id, "group": group, "text": text}, wait_seconds
        )
        async with db.sessions() as session:
            lines = await transcript_since(session, before)
    finally:
        await db.close()
    replies = [Reply(line.chat, line.text, list(line.mentions)) for line in lines]
    return Said(speaker=person.name, active=person.active, replies=replies, complete=complete)


async def run_in_process(settings: Settings, db: Database, body: dict[str, Any], wait_seconds: float) -> bool:
    """Store, handle and send the sandbox answers in this process.

    ``False`` if the answers are still outstanding (a service whose sandbox is off took the row first).
    """
    from bot.context import AppContext
    from bot.inbound.sandbox import SandboxPost, sandbox_message
    from bot.inbox_worker import process_one
    from bot.outbound.dispatcher import drain_once
    from storage.inbox import store_inbound
    from storage.sync import sync_groups

    ctx = AppContext(settings=settings, db=db)
    await sync_groups(db, settings.groups)
    message = sandbox_message(SandboxPost(**body))
    async with db.transaction() as session:
        row = await store_inbound(session, message)
        row_id = None if row is None else row.id
    if row_id is not None and not await process_one(ctx, row_id):
        return await wait_until_settled(db, message.message_id, wait_seconds)
    await drain_once(ctx, channels={"sandbox"})
    return True


async def chat_lines(db: Database, chat: str | None, last: int) -> list[Line]:
    """The last ``last`` lines of the sandbox chat(s): what people said (the inbox) and what the bot said."""
    async with db.sessions() as session:
        said = select(InboxMessage).where(InboxMessage.platform == "sandbox")
        answered = select(SandboxMessage)
        if chat:
            said = said.where(InboxMessage.chat_id == chat)
            answered = answered.where(SandboxMessage.chat == chat)
        inbound = (await session.scalars(said.order_by(InboxMessage.id.desc()).limit(last))).all()
        outbound = (await session.scalars(answered.order_by(SandboxMessage.id.desc()).limit(last))).all()
        ids = {int(row.sender_id) for row in inbound if row.sender_id.isdigit() and len(row.sender_id) <= 9}
        found = await session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))
        names: dict[int, str] = {person_id: name for person_id, name in found}
    lines = [
        Line(row.received_at, row.chat_id, names.get(int(row.sender_id), f"编号 {row.sender_id}"), row.text)
        for row in inbound
        if row.sender_id.isdigit()
    ]
    lines += [Line(message.at, message.chat, "机器人", message.text) for message in outbound]
    lines.sort(key=lambda line: line.at)
    return lines[-last:]


async def sandbox_show(settings: Settings, chat: str | None, last: int) -> int:
    db = await open_checked(settings)
    try:
        lines = await chat_lines(db, chat, last)
    finally:
        await db.close()
    if not lines:
        print("（沙箱中还没有聊天记录）" if not chat else f"（「{chat}」中还没有聊天记录）")
        return 0
    for line in lines:
        stamp = line.at.astimezone(settings.tz).strftime("%m-%d %H:%M")
        body = shown(line.text).splitlines() or [""]
        print(f"{stamp} [{line.chat}] {line.speaker}：{body[0]}")
        for rest in body[1:]:
            print(f"{'':>12}{rest}")
    return 0
