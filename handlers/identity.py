"""Who sent a message: the sender's platform id mapped to an active roster person.

- ``wecom`` → ``Person.wecom_userid``; ``dingtalk`` → ``Person.dingtalk_userid`` (DingTalk's senderStaffId);
  ``feishu`` → ``Person.feishu_userid`` (the sender's ``user_id``, see ``bot.transports.feishu_ws``);
- ``sandbox`` → ``str(Person.id)`` (the sandbox speaks *as* a roster person).

Inactive people, and platforms the roster has no column for, count as unknown.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Person

_MENTION_PREFIX = re.compile(r"^(?:\s*[@＠][^\s@＠]*)+(?:\s+|$)")


def strip_mention(text: str) -> str:
    """``text`` without the leading ``@机器人`` mention(s) a group message carries, and trimmed."""
    return _MENTION_PREFIX.sub("", text, count=1).strip()


async def identify(session: AsyncSession, platform: str, sender_id: str) -> Person | None:
    """The active roster person behind ``sender_id`` on ``platform``, with their unit loaded (one query)."""
    if not sender_id:
        return None
    query = select(Person).options(joinedload(Person.unit)).where(Person.active.is_(True))
    if platform == "wecom":
        query = query.where(Person.wecom_userid == sender_id)
    elif platform == "dingtalk":
        query = query.where(Person.dingtalk_userid == sender_id)
    elif platform == "feishu":
        query = query.where(Person.feishu_userid == sender_id)
    elif platform == "sandbox":
        if not (sender_id.isascii() and sender_id.isdigit() and len(sender_id) <= 9):
            return None
        query = query.where(Person.id == int(sender_id))
    else:
        return None
    return (await session.scalars(query)).first()
