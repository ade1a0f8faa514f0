"""The chat command registry: each command module declares its words, who may use it, and a handler.

A command is recognised by its first word, in Chinese (``统计``) or as an ``/english`` alias (``/status``),
tolerant of full-width punctuation and spacing. Handlers receive a :class:`CommandContext` and answer
through it; what they enqueue is committed with their effect.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, InboxMessage, Person
from storage.outbound import OutboundMessage, addresses, enqueue_reply, office_links
from storage.policy import Policy


@dataclass
class CommandContext:
    """Everything a command handler may use: the transaction, the sender, the arguments and the time."""

    session: AsyncSession
    policy: Policy
    inbox: InboxMessage
    person: Person
    args: str  # normalized: full-width folded, single-spaced
    now: datetime
    raw_args: str = ""  # as written (line breaks and full-width punctuation kept), for texts to pass on
    replies: list[OutboundMessage] = field(default_factory=list)
    audited: bool = False

    def reply(self, body: str, *, title: str = "", keep_links: bool = False) -> None:
        """Answer the sender by the route the message came in on. ``keep_links``: the http/https addresses in
        ``body`` are the bot's own (never a person's words) and stay working links."""
        message = (
            OutboundMessage(body=office_links(body), title=title, links=addresses(body))
            if keep_links
            else OutboundMessage(body=body, title=title)
        )
        self.replies.append(message)
        enqueue_reply(self.session, self.inbox, message)

    def audit(self, action: str, detail: str = "", outcome: str = "ok") -> None:
        """Record the command's outcome (the dispatcher records ``ok`` for a handler that did not)."""
        self.audited = True
        self.session.add(
            AuditEntry(
                person_id=self.person.id,
                actor=self.person.name,
                action=action,
                detail=detail,
                outcome=outcome,
                inbox_id=self.inbox.id,
                at=self.now,
                via="chat",
            )
        )


CommandHandler = Callable[[CommandContext], Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    name: str  # the Chinese word, also the audit action
    aliases: tuple[str, ...]
    usage: str  # e.g. "统计 [期别]"
    summary: str
    office_only: bool
    handler: CommandHandler


REGISTRY: dict[str, CommandSpec] = {}
_ORDER: list[CommandSpec] = []


def command(
    name: str, *aliases: str, usage: str, summary: str, office_only: bool = True
) -> Callable[[CommandHandler], CommandHandler]:
    """Register ``handler`` under ``name`` and its aliases (``/english`` forms)."""

    def register(handler: CommandHandler) -> CommandHandler:
        spec = CommandSpec(name, aliases, usage, summary, office_only, handler)
        for word in (name, *aliases):
            key = word.lower()
            if key in REGISTRY:
                raise ValueError(f"command word {word!r} registered twice")
            REGISTRY[key] = spec
        _ORDER.append(spec)
        return handler

    return register


def commands() -> list[CommandSpec]:
    """Every registered command, in registration order (for help texts)."""
    return list(_ORDER)


_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits, punctuation and spaces become ASCII), trimmed, single-spaced."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


_HEAD = re.compile(r"^(/?[A-Za-z]+|[\u4e00-\u9fff]{2})(?:[\s:,;.!?、。]+|$)")


def match(text: str) -> tuple[CommandSpec, str] | None:
    """The command ``text`` starts with and its argument string, or ``None`` for ordinary text.

    Chinese command words are two characters and must stand alone (followed by a space, punctuation or
    the end), so a report that merely begins with 统计数据… is not mistaken for a command. Full-width
    forms (``统计：``, ``／status``) are folded by :func:`normalize` first.
    """
    cleaned = normalize(text)
    head = _HEAD.match(cleaned)
    if head is None:
        return None
    spec = REGISTRY.get(head[1].lower())
    if spec is None:
        return None
    return spec, cleaned[head.end() :].strip()


_RAW_HEAD = re.compile(r"^\s*(?:[/／]?[A-Za-zＡ-Ｚａ-ｚ]+|[\u4e00-\u9fff]{2})(?:[\s:：,，;；.．!！?？、。]+|$)")


def raw_arguments(text: str) -> str:
    """The arguments of the command ``text`` starts with, exactly as written (only the ends trimmed)."""
    head = _RAW_HEAD.match(text)
    return text[head.end() :].strip() if head else ""
