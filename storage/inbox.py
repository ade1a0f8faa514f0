"""The inbox: every inbound message, stored before the platform's request is answered."""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
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


async def store_now(db: Database, messages: Sequence[InboundMessage]) -> list[int | None]:
    """The inbound edge's group commit: ``messages`` stored at once, the cheapest way each backend allows; for
    each, its new inbox id, or ``None`` when (platform, message id) was already there or appears earlier in
    ``messages`` (a retry).

    SQLite: :func:`insert_inbound` in one transaction (:meth:`~storage.db.Database.write_at_once`). PostgreSQL: one
    ``INSERT … SELECT FROM unnest(…)`` that asyncpg sends as it is, with a column of values per parameter — one
    statement, so atomic without a transaction of its own, and one round trip however many messages.
    """
    if db.dialect != "postgresql":
        return await db.write_at_once(partial(insert_inbound, messages=messages), urgent=True)
    first, rows = _new_rows(messages)
    if not rows:
        return []
    columns = tuple(rows[0])
    values = [[_driver_value(row[column]) for row in rows] for column in columns]
    async with db.driver_connection() as driver:
        try:
            returned = await driver.fetch(_postgresql_statement(columns, db.engine.dialect), *values)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Named by its class and SQLSTATE only: PostgreSQL's own text may quote the row ("Failing row contains").
            reason = f"{type(exc).__name__} (SQLSTATE {getattr(exc, 'sqlstate', None) or '-'})"
            raise DBAPIError(f"INSERT INTO {_TABLE.name}", None, Exception(reason), hide_parameters=True) from None
    return _ids(messages, first, returned)


def insert_inbound(connection: Connection, messages: Sequence[InboundMessage]) -> list[int | None]:
    """:func:`store_now`'s result for ``messages``, inserted within ``connection``'s transaction.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on a plain connection: no ORM unit of work and no savepoint per
    message. On SQLite the statement goes to the driver as it is (:func:`_insert_sqlite`); elsewhere as a cached
    Core statement over a parameter list (SQLAlchemy sends it as multi-row INSERTs, "insertmanyvalues").
    """
    first, rows = _new_rows(messages)
    if not rows:
        return []
    if connection.dialect.name == "sqlite":
        returned = _insert_sqlite(connection, rows)
    else:
        returned = list(connection.execute(_INSERT_POSTGRESQL, rows))
    return _ids(messages, first, returned)


def _new_rows(messages: Sequence[InboundMessage]) -> tuple[dict[tuple[str, str], int], list[dict[str, Any]]]:
    """Where each (platform, message id) first appears in ``messages``, and the values of those messages' rows."""
    received_at = utcnow()
    first: dict[tuple[str, str], int] = {}
    for index, message in enumerate(messages):
        first.setdefault((message.platform, message.message_id), index)
    return first, [_inbox_values(messages[index], received_at) for index in first.values()]


def _ids(
    messages: Sequence[InboundMessage], first: dict[tuple[str, str], int], returned: Sequence[Any]
) -> list[int | None]:
    inserted = {(platform, message_id): row_id for row_id, platform, message_id in returned}
    return [
        inserted.get((message.platform, message.message_id))
        if first[(message.platform, message.message_id)] == index
        else None
        for index, message in enumerate(messages)
    ]


_TABLE = cast(Table, InboxMessage.__table__)
_INSERT_POSTGRESQL = (
    postgresql_insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["platform", "message_id"])
    .returning(_TABLE.c.id, _TABLE.c.platform, _TABLE.c.message_id)
)
# Rows per SQLite statement: 19 values each stays within SQLite's 32,766 bound variables.
_SQLITE_ROWS = 500
# How SQLAlchemy stores a datetime in SQLite (its DATETIME storage format), in UTC (storage.models.UtcDateTime).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _insert_sqlite(connection: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """The insert as plain SQL and driver parameters, written as the inbox's column types write them (JSON text,
    naive UTC datetimes, enum values): SQLAlchemy's per-value bind processing and multi-row compilation were half
    the cost of storing a callback. ``tests/test_inbound_store.py`` compares the rows with the ORM's."""
    returned: list[tuple[int, str, str]] = []
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        parameters = tuple(_sqlite_value(value) for row in chunk for value in row.values())
        returned += connection.exec_driver_sql(_sqlite_statement(tuple(chunk[0]), len(chunk)), parameters).all()
    return returned


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_SQLITE_DATETIME)
    return _driver_value(value)


def _driver_value(value: Any) -> Any:
    """A value as the driver takes it for the inbox's column types: JSON as text, an enum as its value."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


@functools.cache
def _sqlite_statement(columns: tuple[str, ...], count: int) -> str:
    row = "(" + ", ".join("?" * len(columns)) + ")"
    # The names are the inbox's own columns (_inbox_values), never input; every value is a bound parameter.
    return (
        f"INSERT INTO {_TABLE.name} ({', '.join(columns)}) VALUES {', '.join([row] * count)} "  # noqa: S608
        "ON CONFLICT (platform, message_id) DO NOTHING RETURNING id, platform, message_id"
    )


async def store_inbound_many(session: AsyncSession, messages: Sequence[InboundMessage]) -> list[int | None]:
    """:func:`insert_inbound` within ``session``'s transaction."""
    connection = await session.connection()
    return await connection.run_sync(insert_inbound, messages)


@functools.cache
def _postgresql_statement(columns: tuple[str, ...], dialect: Dialect) -> str:
    arrays = ", ".join(f"${n}::{_TABLE.c[name].type.compile(dialect)}[]" for n, name in enumerate(columns, 1))
    # As in _sqlite_statement: the inbox's own column names and types; every value is a bound parameter.
    return (
        f"INSERT INTO {_TABLE.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "  # noqa: S608
        "ON CONFLICT (platform, message_id) DO NOTHING RETURNING id, platform, message_id"
    )
