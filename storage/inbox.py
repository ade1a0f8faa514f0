"""The inbox: every inbound message, stored before the platform's request is answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxMessage, InboxState, utcnow


@dataclass(frozen=True)
class ReplyRoute:
    """How to answer a message: which outbound channel, to what address, under which rate-limit key."""

    channel: str
    target: str
    rate_key: str
    address: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "target": self.target,
            "rate_key": self.rate_key,
            "address": self.address,
        }


@dataclass(frozen=True)
class InboundMessage:
    """One message from any platform, in the neutral shape every handler sees.

    ``channel`` names the endpoint it came through (``wecom_bot``, ``wecom_app``, ``dingtalk_bot``,
    ``sandbox``); ``platform`` is the identity namespace of ``sender_id`` (``wecom``, ``dingtalk``,
    ``sandbox``). ``quoted`` is the text of the message it quotes (replies to), where the platform passes it
    (the WeCom 智能机器人's ``quote``, DingTalk's ``repliedMsg``); empty otherwise.
    """

    platform: str
    channel: str
    message_id: str
    sender_id: str
    text: str
    reply: ReplyRoute
    sender_name: str = ""
    chat_id: str = ""
    chat_type: str = "single"  # "single" | "group"
    msgtype: str = "text"
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sent_at: datetime | None = None
    quoted: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


async def store_inbound(session: AsyncSession, message: InboundMessage) -> InboxMessage | None:
    """Insert ``message`` into the inbox; ``None`` when (platform, message id) is already there (a retry)."""
    row = InboxMessage(
        platform=message.platform,
        channel=message.channel,
        message_id=message.message_id,
        sender_id=message.sender_id,
        sender_name=message.sender_name,
        chat_id=message.chat_id,
        chat_type=message.chat_type,
        msgtype=message.msgtype,
        text=message.text,
        quoted=message.quoted,
        attachments=message.attachments,
        reply=message.reply.as_dict(),
        raw=message.raw,
        sent_at=message.sent_at,
        received_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _inbox_values(message: InboundMessage, received_at: datetime) -> dict[str, Any]:
    return {
        "platform": message.platform,
        "channel": message.channel,
        "message_id": message.message_id,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "chat_id": message.chat_id,
        "chat_type": message.chat_type,
        "msgtype": message.msgtype,
        "text": message.text,
        "quoted": message.quoted,
        "attachments": message.attachments,
        "reply": message.reply.as_dict(),
        "raw": message.raw,
        "sent_at": message.sent_at,
        "received_at": received_at,
        "state": InboxState.PENDING,
        "attempts": 0,
    }


def insert_inbound(connection: Connection, messages: Sequence[InboundMessage]) -> list[int | None]:
    """Insert ``messages`` in one statement (the edge's group commit); for each, its new inbox id, or ``None``
    when (platform, message id) was already there or appears earlier in ``messages`` (a retry).

    Core ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on a plain connection: no ORM unit of work, no savepoint
    per message, and one cached statement executed over a parameter list (SQLAlchemy sends it as multi-row
    INSERTs, "insertmanyvalues").
    """
    received_at = utcnow()
    first: dict[tuple[str, str], int] = {}
    for index, message in enumerate(messages):
        first.setdefault((message.platform, message.message_id), index)
    if not first:
        return []
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = cast(Table, InboxMessage.__table__)
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["platform", "message_id"])
        .returning(table.c.id, table.c.platform, table.c.message_id)
    )
    rows = [_inbox_values(messages[index], received_at) for index in first.values()]
    inserted = {(platform, message_id): row_id for row_id, platform, message_id in connection.execute(statement, rows)}
    return [
        inserted.get((message.platform, message.message_id))
        if first[(message.platform, message.message_id)] == index
        else None
        for index, message in enumerate(messages)
    ]


async def store_inbound_many(session: AsyncSession, messages: Sequence[InboundMessage]) -> list[int | None]:
    """:func:`insert_inbound` within ``session``'s transaction."""
    connection = await session.connection()
    return await connection.run_sync(insert_inbound, messages)
