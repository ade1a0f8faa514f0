"""Who sent a message: the sender's platform id mapped to an active roster person.

- ``wecom`` → ``Person.wecom_userid``; ``dingtalk`` → ``Person.dingtalk_userid`` (DingTalk's senderStaffId);
  ``feishu`` → ``Person.feishu_userid`` (the sender's ``user_id``, see ``bot.transports.feishu_ws``);
- ``sandbox`` → ``str(Person.id)`` (the sandbox speaks *as* a roster person).

Inactive people, and platforms the roster has no column for, count as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload

from storage.models import Person

_MENTION_PREFIX = re.compile(r"^(?:\s*[@＠][^\s@＠]*)+(?:\s+|$)")


def strip_mention(text: str) -> str:
    """``text`` without the leading ``@机器人`` mention(s) a group message carries, and trimmed."""
    return _MENTION_PREFIX.sub("", text, count=1).strip()


def _sender_column(platform: str) -> InstrumentedAttribute[Any] | None:
    """The roster column holding a sender id of ``platform``; ``None`` for a platform the roster does not know."""
    return {
        "wecom": Person.wecom_userid,
        "dingtalk": Person.dingtalk_userid,
        "feishu": Person.feishu_userid,
        "sandbox": Person.id,
    }.get(platform)


def _sandbox_id(sender_id: str) -> int | None:
    if not (sender_id.isascii() and sender_id.isdigit() and len(sender_id) <= 9):
        return None
    return int(sender_id)


async def identify(session: AsyncSession, platform: str, sender_id: str) -> Person | None:
    """The active roster person behind ``sender_id`` on ``platform``, with their unit loaded (one query)."""
    return (await identify_many(session, platform, [sender_id])).get(sender_id)


async def identify_many(session: AsyncSession, platform: str, sender_ids: Iterable[str]) -> dict[str, Person]:
    """:func:`identify` for several senders of one platform in one query: each known sender id → its person."""
    column = _sender_column(platform)
    wanted: dict[object, str] = {}
    for sender_id in sender_ids:
        key = _sandbox_id(sender_id) if platform == "sandbox" else sender_id
        if sender_id and key is not None:
            wanted[key] = sender_id
    if column is None or not wanted:
        return {}
    query = select(Person).options(joinedload(Person.unit)).where(Person.active.is_(True), column.in_(wanted))
    found = {}
    for person in await session.scalars(query):
        key = person.id if platform == "sandbox" else getattr(person, column.key)
        found[wanted[key]] = person
    return found
