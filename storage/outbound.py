"""What the bot says, in one neutral shape, and how it is queued in the outbox.

Handlers and jobs build an :class:`OutboundMessage` and enqueue it in the transaction of the event that
caused it; the dispatcher in ``bot/`` renders it to each platform's dialect and sends it. Text that a
person wrote must pass through :func:`quote` before it is placed in a message, so that it can never
inject a mention, a link or markup into what the bot posts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Group, InboxMessage, OutboxMessage, Person, utcnow

BOT_SOCKET_CHANNEL = "wecom_bot_ws"  # the WeCom 智能机器人's long connection (bot.transports.wecom_bot_ws)
GROUP_CHANNELS = {
    "wecom": "wecom_webhook",
    "dingtalk": "dingtalk_robot",
    "feishu": "feishu_bot",
    "sandbox": "sandbox",
}


class Mention(BaseModel):
    """A roster person to @-mention, with every id a platform may know them by."""

    name: str
    person_id: int | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None
    mobile: str | None = None

    @classmethod
    def of(cls, person: Person) -> Mention:
        return cls(
            name=person.name,
            person_id=person.id,
            wecom_userid=person.wecom_userid,
            dingtalk_userid=person.dingtalk_userid,
            mobile=person.mobile,
        )


class OutboundMessage(BaseModel):
    """A message in duban's light markdown: ``**bold**`` and ``- `` bullets, one paragraph per line."""

    body: str
    title: str = ""
    mentions: list[Mention] = Field(default_factory=list)
    at_all: bool = False
    format: Literal["markdown", "text"] = "markdown"
    late_post: bool = False
    # The http/https addresses the office itself wrote into the body (see :func:`office_links`): a marked address
    # becomes a working link only if it is listed here, so no text that missed :func:`quote` can forge one.
    links: list[str] = Field(default_factory=list)


_MARKUP = str.maketrans(
    {
        "@": "＠",
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "\\": "＼",
    }
)
# Anywhere, not only at a word boundary: in 详见https://… the scheme follows a letter, and clients still link it.
_URL_SCHEME = re.compile(r"(?i)(https?|ftp|dingtalk|wxwork|weixin|javascript|data|mailto)(:)")
# Control characters, zero-width and invisible characters, every bidi control (U+061C included), and the two
# private-use characters that mark the office's links (so that no one else's words can carry a link mark).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ue000\ue001]"
)

# A link the office wrote stays a link: it travels in the body between these two marks, which only
# :func:`office_links` and :func:`quote_keeping_links` put there and :func:`quote` removes from anyone's words.
LINK_OPEN = "\ue000"
LINK_CLOSE = "\ue001"
# An http/https address with a host, of the characters that mean nothing to any platform's markdown (no
# brackets, parentheses, angle brackets, asterisks, backticks, pipes, backslashes or ``@``); it ends before
# trailing sentence punctuation, as in “详见https://www.gov.cn/a.html。” or “…/a.html.”.
LINK = re.compile(r"(?i)https?://[a-z0-9.-]+(?::\d{1,5})?(?:[/?#][a-z0-9\-._~:/?#!$&+,;=%]*)?(?<![.,;:!?])")


def _marked(url: str) -> str:
    return f"{LINK_OPEN}{url}{LINK_CLOSE}"


def without_link_marks(body: str) -> str:
    """A stored body as a person reads it (the link marks, invisible characters, taken out)."""
    return body.replace(LINK_OPEN, "").replace(LINK_CLOSE, "")


def addresses(text: str) -> list[str]:
    """The http/https addresses in the office's ``text``, as :func:`office_links` marks them (for ``links``)."""
    return LINK.findall(_CONTROL.sub("", text))


def office_links(text: str) -> str:
    """The office's own text (sent as written) with each http/https address marked to stay a working link."""
    return LINK.sub(lambda m: _marked(m[0]), _CONTROL.sub("", text))


def quote_keeping_links(text: str) -> str:
    """The office's words made inert like :func:`quote`, except its http/https addresses, which stay links."""
    cleaned = _CONTROL.sub("", text)
    parts: list[str] = []
    position = 0
    for match in LINK.finditer(cleaned):
        parts += [quote(cleaned[position : match.start()]), _marked(match[0])]
        position = match.end()
    parts.append(quote(cleaned[position:]))
    return "".join(parts)


def quote(text: str, *, max_chars: int | None = None) -> str:
    """Make a person's words inert in any platform's markdown: no mentions, links, markup or bidi tricks.

    Characters that carry meaning are replaced by their full-width forms, which read the same to a person.
    """
    cleaned = _CONTROL.sub("", text).translate(_MARKUP)
    cleaned = _URL_SCHEME.sub(lambda m: f"{m[1]}：", cleaned)
    if max_chars is not None and len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1] + "…"
    return cleaned


def outbox_values(
    *,
    channel: str,
    target: str,
    rate_key: str,
    message: OutboundMessage,
    origin: str,
    address: dict[str, Any] | None = None,
    group_id: int | None = None,
    inbox_id: int | None = None,
    dedupe_key: str | None = None,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row's columns (for :func:`enqueue`, or a batch inserted in one statement)."""
    return {
        "channel": channel,
        "target": target,
        "rate_key": rate_key,
        "address": address or {},
        "message": message.model_dump(mode="json"),
        "origin": origin,
        "group_id": group_id,
        "inbox_id": inbox_id,
        "dedupe_key": dedupe_key,
        "due_at": due_at or utcnow(),
    }


def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    target: str,
    rate_key: str,
    message: OutboundMessage,
    origin: str,
    address: dict[str, Any] | None = None,
    group_id: int | None = None,
    inbox_id: int | None = None,
    dedupe_key: str | None = None,
    due_at: datetime | None = None,
    file: tuple[str, str] | None = None,
) -> OutboxMessage:
    """Add one outbox row to ``session`` (the caller's transaction commits it with its cause).

    ``file``: the sha256 (in the blob store) and shown name of a file the row carries; ``message`` is then the
    text that goes instead where the file cannot (see ``bot.outbound.senders.files``).
    """
    row = OutboxMessage(
        **outbox_values(
            channel=channel,
            target=target,
            rate_key=rate_key,
            address=address,
            message=message,
            origin=origin,
            group_id=group_id,
            inbox_id=inbox_id,
            dedupe_key=dedupe_key,
            due_at=due_at,
        ),
        file_sha256=file[0] if file else None,
        file_name=file[1] if file else None,
    )
    session.add(row)
    return row


def group_rate_key(group: Group) -> str:
    return f"group:{group.name}"


def enqueue_to_group(
    session: AsyncSession,
    group: Group,
    message: OutboundMessage,
    *,
    origin: str,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue ``message`` for a group's robot (the group's platform decides the dialect). A WeCom group with a chat
    id and no webhook is posted to by the 智能机器人's active send over its long connection."""
    by_bot = group.platform == "wecom" and not group.webhook and bool(group.chat_id)
    return enqueue(
        session,
        channel=BOT_SOCKET_CHANNEL if by_bot else GROUP_CHANNELS[group.platform],
        target=group.name,
        rate_key=group_rate_key(group),
        address={"group": group.name, "chatid": group.chat_id} if by_bot else {"group": group.name},
        message=message,
        origin=origin,
        group_id=group.id,
        dedupe_key=dedupe_key,
    )


def reply_values(inbox: InboxMessage, message: OutboundMessage, *, origin: str = "reply") -> dict[str, Any]:
    """The outbox row answering an inbound message by the route its adapter recorded (response_url, …)."""
    route = inbox.reply
    return outbox_values(
        channel=route["channel"],
        target=route["target"],
        rate_key=route["rate_key"],
        address=route.get("address", {}),
        message=message,
        origin=origin,
        inbox_id=inbox.id,
    )


def enqueue_reply(
    session: AsyncSession,
    inbox: InboxMessage,
    message: OutboundMessage,
    *,
    origin: str = "reply",
) -> OutboxMessage:
    """Queue an answer to an inbound message (:func:`reply_values`)."""
    row = OutboxMessage(**reply_values(inbox, message, origin=origin))
    session.add(row)
    return row
