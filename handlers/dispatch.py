"""What the bot does with one inbound message: identify the sender, then run a command or file a report.

Routing, in order:

1. The leading @-mention of the bot is removed.
2. An unknown sender (not on the roster, or inactive) is told so courteously and whom to ask; the attempt is
   audited. Their message stays in the inbox.
3. Images, files, and voice or video the platform sent as media: a liaison's are attached to the unit's report
   and fetched (:mod:`handlers.files`); an office member's are not filed. Other message types (links,
   locations, events, voice sent only as text) are kept but not filed, with a polite answer naming what the
   bot understands.
4. A command (``统计``, ``/status``…): run if the sender may use it, refused and audited if not.
5. Any other text: an office member gets their help (office members do not file reports); a liaison's text
   is the unit's report (:mod:`handlers.reports`) — except a bare acknowledgement (``收到``, ``好的，谢谢``,
   ``👍``), which must not become the unit's latest version, and an answer to a round: marked ``#N``, or quoting
   a round's request (:mod:`handlers.round_answers`).

A liaison's message that starts with an office-only command word is read by its size: a short one (one line
under :data:`REPORT_MIN_CHARS` characters) is an attempt at the command and refused; a longer or multi-line
one is a report that happens to begin with that word (``通知：我厅已于…``), filed as such, and the
confirmation says so.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import handlers.commands  # noqa: F401  (registers every command)
from handlers import file_texts, texts
from handlers.commands.help import help_text
from handlers.commands.registry import CommandContext, CommandSpec, match, raw_arguments
from handlers.files import asks_how_to_send, file_attachment, keep_unfiled, mentions_attachment
from handlers.identity import identify, strip_mention
from handlers.reports import REPORT_ACTION, file_report
from handlers.respond import audit, audit_values, reply
from handlers.round_answers import (
    answer_quoting,
    file_round_answer,
    names_monthly_report,
    quoted_rounds,
    round_marker,
    route_unmarked,
)
from storage.models import AuditEntry, Group, InboxMessage, OutboxMessage, Person, Role, Round, Unit
from storage.outbound import OutboundMessage, enqueue, enqueue_to_group, reply_values
from storage.policy import Policy

log = logging.getLogger(__name__)

REPORT_MIN_CHARS = 40
ATTACHMENT_TYPES = frozenset({"image", "picture", "file"})
MEDIA_TYPES = frozenset({"voice", "audio", "video", "shortvideo"})  # kept as files when the platform sent the media
TEXT_TYPES = frozenset({"text", "mixed", "richText", "markdown"})  # voice, video, link, location… are not filed
ACKNOWLEDGEMENTS = frozenset({"收到", "好", "好的", "ok", "okay", "嗯", "嗯嗯", "明白", "了解", "知道了"})
COURTESIES = ACKNOWLEDGEMENTS | {"谢谢", "感谢", "多谢", "辛苦了", "辛苦"}


async def handle(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
    """Handle one inbox row inside the caller's transaction (the caller marks it done)."""
    text = strip_mention(row.text or "")
    person = await identify(session, row.platform, row.sender_id)
    if person is None:
        answer_unknown_sender(session, row, policy, now)
        return
    row.person_id = person.id

    if (
        row.msgtype in ATTACHMENT_TYPES
        or (row.msgtype in TEXT_TYPES and not text and row.attachments)
        or (row.msgtype in MEDIA_TYPES and row.attachments)
    ):
        await _attachment(session, row, person, policy, now)
    elif row.msgtype not in TEXT_TYPES:
        reply(session, row, texts.unsupported_message(row.msgtype))
    elif (found := match(text)) is not None:
        spec, args = found
        await _command(session, row, person, spec, args, raw_arguments(text), text, policy, now)
    elif person.role is Role.OFFICE:
        if text and is_courtesy(text):
            reply(session, row, texts.OFFICE_COURTESY)
        else:
            reply(session, row, help_text(person, policy, now, lead=texts.office_member_lead(policy.office_name)))
    elif not text:
        reply(session, row, texts.EMPTY_TEXT)
    elif is_courtesy(text):
        reply(session, row, texts.COURTESY)
    elif (marked := round_marker(text)) is not None:
        await _round_answer(session, row, person, marked, policy, now)
    elif row.quoted and (quoted := await quoted_rounds(session, row.quoted)):
        await _quoting_answer(session, row, person, quoted, text, policy, now)
    else:
        await _report(session, row, person, text, policy, now)


def unknown_sender_answer(row: InboxMessage, policy: Policy, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer to a sender who is not on the roster (whom to ask) and the audit record of the attempt, as rows'
    values: the one-message path adds them, a batch inserts many at once (:mod:`handlers.report_batch`)."""
    answer = reply_values(row, OutboundMessage(body=texts.unknown_sender(policy.office_name)))
    record = audit_values(row, None, action="身份核验", detail="发信人不在名册", outcome="unknown_sender", now=now)
    return answer, record


def answer_unknown_sender(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
    """Tell a sender who is not on the roster whom to ask, and audit the attempt; their message stays in the inbox."""
    answer, record = unknown_sender_answer(row, policy, now)
    session.add_all([OutboxMessage(**answer), AuditEntry(**record)])


def is_courtesy(text: str) -> bool:
    """A thank-you or an acknowledgement (``收到，谢谢！``, ``👍``), which must not replace a unit's report."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFKC", text).casefold():
        if unicodedata.category(char)[0] not in "PZS":
            kept.append(char)
            if len(kept) > _LONGEST_COURTESY:  # a report, however it ends: no need to read it all
                return False
    letters = "".join(kept)
    if not letters:
        return True
    return any(letters == first + second for first in ("", *COURTESIES) for second in COURTESIES)


_LONGEST_COURTESY = 2 * max(len(word) for word in COURTESIES)


async def _attachment(session: AsyncSession, row: InboxMessage, person: Person, policy: Policy, now: datetime) -> None:
    if person.role is Role.OFFICE:  # kept all the same (nothing a person sent is lost), but not filed
        keep_unfiled(session, row, person, lead=texts.OFFICE_ATTACHMENT)
        return
    unit = person.unit
    if unit is None or not unit.active:
        _no_unit(session, row, person, policy, now)
        return
    await file_attachment(session, row, person, unit, policy)


async def _report(
    session: AsyncSession, row: InboxMessage, person: Person, text: str, policy: Policy, now: datetime, note: str = ""
) -> None:
    unit = person.unit
    if unit is None or not unit.active:
        _no_unit(session, row, person, policy, now)
        return
    if not row.attachments and asks_how_to_send(text):
        reply(session, row, file_texts.SEND_ONE_TO_ONE if row.chat_type == "group" else file_texts.SEND_HERE)
        return
    if not note:  # a report flagged otherwise (a command word at its head) is a report
        routed = await route_unmarked(session, row, person, unit, text, policy, now)
        if routed is None:
            return
        text = routed
    await file_report(session, row, person, unit, text, policy, now=now, note=note + _file_advice(row, text))


def _file_advice(row: InboxMessage, text: str) -> str:
    """A group report that mentions an attachment is told to send the file 1:1 (platforms deliver none in groups)."""
    if row.chat_type == "group" and not row.attachments and mentions_attachment(text):
        return file_texts.NOTE_SEND_FILE_ONE_TO_ONE
    return ""


def plain_report(row: InboxMessage, person: Person | None) -> tuple[Unit, str, str] | None:
    """The unit, text and confirmation note when :func:`handle` would pass ``row`` straight to
    :func:`~handlers.reports.file_report` (a liaison's text, no files, no command, no courtesy, no round
    marker, no question about sending files); ``None`` for every other message, which only :func:`handle` takes.

    Whether an open collection asks the unit (then the text may answer it) is for the caller to check, once for
    a whole batch (:mod:`handlers.report_batch`).
    """
    if person is None or person.role is Role.OFFICE or row.attachments or row.msgtype not in TEXT_TYPES:
        return None
    if row.quoted:  # it may quote a collection's request (handle looks that up)
        return None
    unit = person.unit
    if unit is None or not unit.active:
        return None
    text = strip_mention(row.text or "")
    if not text or match(text) is not None or is_courtesy(text) or round_marker(text) is not None:
        return None
    if asks_how_to_send(text) or names_monthly_report(text):
        return None
    return unit, text, _file_advice(row, text)


async def _round_answer(
    session: AsyncSession, row: InboxMessage, person: Person, marked: tuple[int, str], policy: Policy, now: datetime
) -> None:
    unit = person.unit
    if unit is None or not unit.active:
        _no_unit(session, row, person, policy, now)
        return
    number, text = marked
    await file_round_answer(session, row, person, unit, number, text, policy, now)


async def _quoting_answer(
    session: AsyncSession,
    row: InboxMessage,
    person: Person,
    quoted: list[Round],
    text: str,
    policy: Policy,
    now: datetime,
) -> None:
    unit = person.unit
    if unit is None or not unit.active:
        _no_unit(session, row, person, policy, now)
        return
    await answer_quoting(session, row, person, unit, quoted, text, policy, now)


def _no_unit(session: AsyncSession, row: InboxMessage, person: Person, policy: Policy, now: datetime) -> None:
    reply(session, row, texts.no_unit(person, policy.office_name))
    audit(session, row, person, action=REPORT_ACTION, detail="联络员未关联在册成员单位", outcome="no_unit", now=now)


async def _command(
    session: AsyncSession,
    row: InboxMessage,
    person: Person,
    spec: CommandSpec,
    args: str,
    raw_args: str,
    text: str,
    policy: Policy,
    now: datetime,
) -> None:
    if spec.office_only and person.role is not Role.OFFICE:
        if "\n" in text or len(text) >= REPORT_MIN_CHARS:
            await _report(session, row, person, text, policy, now, note=texts.command_word_as_report(spec.name))
            return
        reply(session, row, texts.refused_command(spec.name, policy.office_name))
        audit(session, row, person, action=spec.name, detail=args, outcome="refused", now=now)
        return
    ctx = CommandContext(
        session=session, policy=policy, inbox=row, person=person, args=args, now=now, raw_args=raw_args
    )
    await spec.handler(ctx)
    if not ctx.audited:
        ctx.audit(spec.name, args)


async def apologize(session: AsyncSession, row: InboxMessage, policy: Policy) -> None:
    """After a handler failure: tell the sender their message is kept, and tell the office (once per row)."""
    if row.reply and await _not_queued(session, f"apology:{row.id}"):
        route = row.reply
        enqueue(
            session,
            channel=route["channel"],
            target=route["target"],
            rate_key=route["rate_key"],
            address=route.get("address", {}),
            message=OutboundMessage(body=texts.apology(policy.office_name)),
            origin="apology",
            inbox_id=row.id,
            dedupe_key=f"apology:{row.id}",
        )
    elif not row.reply:
        log.warning("inbox row %s has no reply route; the sender cannot be told of the failure", row.id)
    sender = row.sender_name or row.sender_id
    notice = OutboundMessage(
        body=texts.failure_notice(sender, row.platform, row.received_at, row.id, row.error or "", policy.tz)
    )
    offices = await session.scalars(select(Group).where(Group.is_office.is_(True), Group.active.is_(True)))
    for group in offices:
        key = f"inbox-failed:{row.id}:{group.id}"
        if await _not_queued(session, key):
            enqueue_to_group(session, group, notice, origin="inbox_failure", dedupe_key=key)


async def _not_queued(session: AsyncSession, dedupe_key: str) -> bool:
    found = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    return found is None
