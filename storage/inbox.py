"""The inbox: every inbound message, stored before the platform's request is answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxMessage, utcnow


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
    ``sandbox``).
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
