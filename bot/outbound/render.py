"""One neutral :class:`OutboundMessage`, rendered to each channel's wire payloads (one payload per part).

Mentions use the id each platform knows, falling back to the mobile number, else the plain name (which
notifies nobody but still tells readers who is meant):

- WeCom group robot: ``markdown`` with ``<@userid>``; ``text`` with ``mentioned_list`` /
  ``mentioned_mobile_list`` when someone can only be reached by mobile, for ``@all`` (markdown has none)
  or when the message asks for text.
- DingTalk robot and session webhook: ``markdown`` (or ``text``) with ``at.atUserIds`` / ``at.atMobiles``
  and the matching ``@id`` tokens in the text; a configured keyword is guaranteed to appear.
- Feishu custom bot: ``post`` (or ``text``); the roster holds no Feishu ids, so mentions are plain names;
  ``@all`` is an ``at`` element.

A link the office wrote itself (a link :class:`~bot.outbound.markup.Span`) stays a working link: ``[url](url)``
in WeCom and DingTalk markdown, an ``a`` element in a Feishu ``post``, the bare address in text messages
(which the clients make clickable). Every other address, above all in liaisons' words, stays inert.
- WeCom 智能机器人 ``response_url``: markdown, one request only, so a reply that would need several parts
  is shortened with a visible note instead.
- WeCom app message: text or markdown to one member; mentions are plain names.
- Sandbox: plain text and the mentioned names.

Byte limits: WeCom text 2048, markdown 4096 (documented). DingTalk publishes no byte limit for robot
messages; 4096 bytes of text is a conservative choice that also keeps messages readable. Feishu limits
the whole request body to 20 KB; we measure the JSON body (with room for the signature) against 20,000
bytes. The ``response_url`` markdown is held to the WeCom robot's 4096 bytes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.outbound.markup import Line, Span, as_markdown, as_plain, inert, parse
from bot.outbound.split import Chunk, split
from storage.outbound import Mention, OutboundMessage

WECOM_TEXT_LIMIT = 2048
WECOM_MARKDOWN_LIMIT = 4096
WECOM_APP_LIMIT = 2048
RESPONSE_URL_LIMIT = 4096
DINGTALK_LIMIT = 4096
FEISHU_BODY_LIMIT = 20_000
FEISHU_SIGN_RESERVE = 96  # ``"timestamp":"1700000000","sign":"<44 base64>"`` and separators
LATE_MARK = "【补发】"
SHORTENED_NOTE = "……（篇幅所限，其余内容从略。）"

Payload = dict[str, Any]


def wire_json(payload: Payload) -> bytes:
    """The exact bytes sent (UTF-8, not ``\\u`` escapes, which would triple the size of Chinese text)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def unique_mentions(mentions: Sequence[Mention]) -> list[Mention]:
    seen: set[tuple[object, ...]] = set()
    unique: list[Mention] = []
    for mention in mentions:
        key: tuple[object, ...] = (
            ("person", mention.person_id)
            if mention.person_id is not None
            else ("ids", mention.name, mention.wecom_userid, mention.dingtalk_userid, mention.mobile)
        )
        if key not in seen:
            seen.add(key)
            unique.append(mention)
    return unique


def numbering(chunk: Chunk) -> str:
    return f"（{chunk.index}/{chunk.total}）" if chunk.total > 1 else ""


@dataclass(frozen=True)
class Dialect(ABC):
    """How one channel composes a chunk, and what of it counts against the channel's limit."""

    message: OutboundMessage

    @property
    @abstractmethod
    def limit(self) -> int: ...

    @abstractmethod
    def compose(self, chunk: Chunk) -> Payload: ...

    @abstractmethod
    def size(self, chunk: Chunk) -> int: ...

    def chunks(self) -> list[Chunk]:
        lines = parse(self.message.body, self.message.links)
        return split(lines, unique_mentions(self.message.mentions), self.message.at_all, self)

    def render(self) -> list[Payload]:
        return [self.compose(chunk) for chunk in self.chunks()]

    def plain_head(self, chunk: Chunk, *, escape: bool = True) -> str:
        title = inert(self.message.title) if escape else self.message.title
        return (LATE_MARK if self.message.late_post else "") + title + numbering(chunk)


def _name_token(mention: Mention) -> str:
    return f"@{inert(mention.name)}"


# ---- WeCom group robot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WecomMarkdown(Dialect):
    """WeCom markdown: ``**bold**``, ``<font color>``, ``<@userid>`` mentions (``mention_ids=False``: names)."""

    max_bytes: int = WECOM_MARKDOWN_LIMIT
    mention_ids: bool = True

    @property
    def limit(self) -> int:
        return self.max_bytes

    def head(self, chunk: Chunk) -> str:
        late = '<font color="warning">' + LATE_MARK + "</font>" if self.message.late_post else ""
        titled = inert(self.message.title) + numbering(chunk)
        return late + (f"**{titled}**" if titled else "")

    def token(self, mention: Mention) -> str:
        if self.mention_ids and mention.wecom_userid:
            return f"<@{mention.wecom_userid}>"
        return _name_token(mention)

    def content(self, chunk: Chunk) -> str:
        head = self.head(chunk)
        lines = [head] if head else []
        lines += [as_markdown(line) for line in chunk.lines]
        if chunk.mentions:
            lines.append(" ".join(self.token(mention) for mention in chunk.mentions))
        return "\n".join(lines)

    def size(self, chunk: Chunk) -> int:
        return len(self.content(chunk).encode())

    def compose(self, chunk: Chunk) -> Payload:
        return {"msgtype": "markdown", "markdown": {"content": self.content(chunk)}}


@dataclass(frozen=True)
class WecomText(Dialect):
    """WeCom text: mentions travel in ``mentioned_list`` / ``mentioned_mobile_list`` (``lists=False``: names)."""

    max_bytes: int = WECOM_TEXT_LIMIT
    lists: bool = True

    @property
    def limit(self) -> int:
        return self.max_bytes

    def reachable(self, mention: Mention) -> bool:
        return self.lists and bool(mention.wecom_userid or mention.mobile)

    def content(self, chunk: Chunk) -> str:
        head = self.plain_head(chunk)
        lines = [head] if head else []
        lines += [as_plain(line) for line in chunk.lines]
        by_name = [_name_token(mention) for mention in chunk.mentions if not self.reachable(mention)]
        if by_name:
            lines.append(" ".join(by_name))
        return "\n".join(lines)

    def size(self, chunk: Chunk) -> int:
        return len(self.content(chunk).encode())

    def compose(self, chunk: Chunk) -> Payload:
        text: dict[str, Any] = {"content": self.content(chunk)}
        if self.lists:
            userids = [mention.wecom_userid for mention in chunk.mentions if mention.wecom_userid]
            mobiles = [m.mobile for m in chunk.mentions if not m.wecom_userid and m.mobile]
            if chunk.at_all:
                userids.append("@all")
            if userids:
                text["mentioned_list"] = userids
            if mobiles:
                text["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": text}


def wecom_robot_dialect(message: OutboundMessage) -> Dialect:
    """Markdown unless a mention needs the text type to notify (mobile only, or @all), or text is asked for."""
    mobile_only = any(not m.wecom_userid and m.mobile for m in message.mentions)
    if message.format == "text" or message.at_all or mobile_only:
        return WecomText(message)
    return WecomMarkdown(message)


# ---- DingTalk robot and session webhook ---------------------------------------------------------------


@dataclass(frozen=True)
class Dingtalk(Dialect):
    """DingTalk markdown (or text): ``@userid`` / ``@mobile`` tokens in the text and the ``at`` lists."""

    keywords: tuple[str, ...] = ()

    @property
    def limit(self) -> int:
        return DINGTALK_LIMIT

    @staticmethod
    def token(mention: Mention) -> str:
        if mention.dingtalk_userid:
            return f"@{mention.dingtalk_userid}"
        if mention.mobile:
            return f"@{mention.mobile}"
        return _name_token(mention)

    def parts(self, chunk: Chunk) -> tuple[str, str]:
        """(title, text) with a configured keyword guaranteed to appear in both."""
        head = self.plain_head(chunk)
        title, text = self._compose(chunk, head)
        if self.keywords and not any(k in text and k in title for k in self.keywords):
            title, text = self._compose(chunk, f"【{self.keywords[0]}】{head}")
        return title, text

    def _compose(self, chunk: Chunk, head: str) -> tuple[str, str]:
        markdown = self.message.format == "markdown"
        blocks: list[str] = []
        if head:
            blocks.append(f"#### {head}" if markdown else head)
        blocks += [as_markdown(line) if markdown else as_plain(line) for line in chunk.lines]
        if chunk.mentions:
            blocks.append(" ".join(self.token(mention) for mention in chunk.mentions))
        text = ("\n\n" if markdown else "\n").join(blocks)
        first = next((inert(line.text) for line in chunk.lines if line.text.strip()), "")
        title = head or first[:30] or "消息"
        return title, text

    def size(self, chunk: Chunk) -> int:
        return len(self.parts(chunk)[1].encode())

    def compose(self, chunk: Chunk) -> Payload:
        title, text = self.parts(chunk)
        payload: Payload = (
            {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
            if self.message.format == "markdown"
            else {"msgtype": "text", "text": {"content": text}}
        )
        if chunk.mentions or chunk.at_all:
            payload["at"] = {
                "atUserIds": [m.dingtalk_userid for m in chunk.mentions if m.dingtalk_userid],
                "atMobiles": [m.mobile for m in chunk.mentions if not m.dingtalk_userid and m.mobile],
                "isAtAll": chunk.at_all,
            }
        return payload


# ---- Feishu custom bot ---------------------------------------------------------------------------------


def _feishu_paragraph(line: Line) -> list[dict[str, str]]:
    """One ``post`` paragraph: inert text elements, and an ``a`` element for each office-written link."""
    if not any(span.link for span in line.spans):
        return [{"tag": "text", "text": as_plain(line)}]
    elements: list[dict[str, str]] = [{"tag": "text", "text": "- "}] if line.bullet else []
    for span in line.spans:
        if span.link:
            elements.append({"tag": "a", "text": span.text, "href": span.text})
        elif elements and elements[-1]["tag"] == "text":
            elements[-1] = {"tag": "text", "text": elements[-1]["text"] + inert(span.text)}
        else:
            elements.append({"tag": "text", "text": inert(span.text)})
    return elements


@dataclass(frozen=True)
class Feishu(Dialect):
    """Feishu ``post`` (or ``text``); mentions are plain names, ``@all`` an ``at`` element."""

    keywords: tuple[str, ...] = ()

    @property
    def limit(self) -> int:
        return FEISHU_BODY_LIMIT

    def _payload(self, chunk: Chunk, head: str) -> Payload:
        lines = [as_plain(line) for line in chunk.lines]
        names = " ".join(_name_token(mention) for mention in chunk.mentions)
        if self.message.format == "text":
            text_lines = ([head] if head else []) + lines
            tail = " ".join(filter(None, [names, '<at user_id="all">所有人</at>' if chunk.at_all else ""]))
            if tail:
                text_lines.append(tail)
            return {"msg_type": "text", "content": {"text": "\n".join(text_lines)}}
        paragraphs = [_feishu_paragraph(line) for line in chunk.lines]
        closing: list[dict[str, str]] = [{"tag": "text", "text": names}] if names else []
        if chunk.at_all:
            closing.append({"tag": "at", "user_id": "all"})
        if closing:
            paragraphs.append(closing)
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": head, "content": paragraphs}}}}

    def payload(self, chunk: Chunk) -> Payload:
        head = self.plain_head(chunk)
        payload = self._payload(chunk, head)
        if self.keywords and not any(k in wire_json(payload).decode() for k in self.keywords):
            payload = self._payload(chunk, f"【{self.keywords[0]}】{head}")
        return payload

    def size(self, chunk: Chunk) -> int:
        return len(wire_json(self.payload(chunk))) + FEISHU_SIGN_RESERVE

    def compose(self, chunk: Chunk) -> Payload:
        return self.payload(chunk)


# ---- Replies and 1:1 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseUrl(WecomMarkdown):
    """A WeCom 智能机器人 ``response_url`` answers once: a reply that does not fit is shortened, visibly."""

    max_bytes: int = RESPONSE_URL_LIMIT
    mention_ids: bool = False

    def chunks(self) -> list[Chunk]:
        lines = parse(self.message.body, self.message.links)
        mentions = tuple(unique_mentions(self.message.mentions))
        whole = Chunk(tuple(lines), mentions, self.message.at_all)
        if self.size(whole) <= self.limit:
            return [whole]
        note = Line((Span(SHORTENED_NOTE),))
        kept: list[Line] = []
        for line in lines:
            if self.size(Chunk((*kept, line, note), mentions)) > self.limit:
                break
            kept.append(line)
        return [Chunk((*kept, note), mentions)]


class BotSocketMarkdown(WecomMarkdown):
    """The 智能机器人 over its long connection: WeCom markdown, people named rather than ``<@userid>``."""

    mention_ids: bool = False


def combine(messages: Sequence[OutboundMessage]) -> OutboundMessage:
    """Several replies to one message as one (for a reply route that carries a single request)."""
    first, *rest = messages
    if not rest:
        return first
    bodies = [first.body]
    for message in rest:
        bodies.append(f"**{message.title}**\n{message.body}" if message.title else message.body)
    return OutboundMessage(
        title=first.title,
        body="\n\n".join(bodies),
        mentions=[mention for message in messages for mention in message.mentions],
        at_all=any(message.at_all for message in messages),
        format="markdown" if any(message.format == "markdown" for message in messages) else "text",
        late_post=any(message.late_post for message in messages),
        links=[link for message in messages for link in message.links],
    )


def wecom_app_dialect(message: OutboundMessage) -> Dialect:
    if message.format == "text":
        return WecomText(message, max_bytes=WECOM_APP_LIMIT, lists=False)
    return WecomMarkdown(message, max_bytes=WECOM_APP_LIMIT, mention_ids=False)


@dataclass(frozen=True)
class Sandbox(Dialect):
    """The local sandbox chat: plain text as written (no platform to inject into), names mentioned."""

    @property
    def limit(self) -> int:
        return 1 << 30

    def text(self, chunk: Chunk) -> str:
        head = self.plain_head(chunk, escape=False)
        lines = [head] if head else []
        lines += [as_plain(line, escape=False) for line in chunk.lines]
        tokens = [f"@{mention.name}" for mention in chunk.mentions] + (["@所有人"] if chunk.at_all else [])
        if tokens:
            lines.append(" ".join(tokens))
        return "\n".join(lines)

    def size(self, chunk: Chunk) -> int:
        return len(self.text(chunk).encode())

    def compose(self, chunk: Chunk) -> Payload:
        return {"text": self.text(chunk), "mentions": [mention.name for mention in chunk.mentions]}


def dialect_for(channel: str, message: OutboundMessage, *, keywords: Sequence[str] = ()) -> Dialect:
    """The dialect ``message`` takes on ``channel`` (``keywords``: the robot's configured keywords)."""
    match channel:
        case "wecom_webhook":
            return wecom_robot_dialect(message)
        case "dingtalk_robot":
            return Dingtalk(message, keywords=tuple(keywords))
        case "dingtalk_session":
            return Dingtalk(message)
        case "feishu_bot":
            return Feishu(message, keywords=tuple(keywords))
        case "wecom_response_url":
            return ResponseUrl(message)
        case "wecom_bot_ws":
            return BotSocketMarkdown(message)
        case "wecom_app":
            return wecom_app_dialect(message)
        case "sandbox":
            return Sandbox(message)
    raise ValueError(f"unknown outbound channel {channel!r}")


def render(message: OutboundMessage, channel: str, *, keywords: Sequence[str] = ()) -> list[Payload]:
    """The payloads that deliver ``message`` on ``channel``, in order (signatures are added by the sender)."""
    return dialect_for(channel, message, keywords=keywords).render()
