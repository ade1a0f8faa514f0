"""A liaison's answer to a round (``#7 姓名：张三 职务：处长 手机：139…``): parsed into the named fields, kept.

An answer may also carry no marker and quote the round's request instead (where the platform passes the quote:
the WeCom 智能机器人, DingTalk): the round is recognised in the quoted text by its marker (``征集#7``, ``会议#8``,
``#7``) or, failing one, by its title. A quote that names several rounds is never guessed at: the message is kept
and the liaison asked which round it answers.

Nothing a liaison sends is lost: an answer to a closed or unknown round, from a unit the round did not ask, or
one whose fields cannot be read is still stored (or left in the inbox) and the sender is told, courteously,
what happened.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.reports import REPORT_ACTION, file_report
from handlers.respond import audit, reply
from schedules.dates import moment_label
from storage import rounds
from storage.models import InboxMessage, PendingAction, Person, Round, Unit
from storage.monthly_round import period_of
from storage.outbound import quote
from storage.policy import Policy
from storage.reports import fold

_MARKER = re.compile(r"^\s*(?:征集|会议)?[#＃]\s*([0-9０-９]{1,9})(?:号)?[\s:：,，、.。]*")
_QUOTED_MARKER = re.compile(r"[#＃]\s*([0-9０-９]{1,9})")
TITLE_MIN_CHARS = 4  # a shorter title (``联系人``) could be any quoted sentence's words
_SEPARATORS = re.compile(r"[\s,，、;；]+")


def round_marker(text: str) -> tuple[int, str] | None:
    """``#7 内容`` or ``征集#7：内容`` → (7, ``内容``); ``None`` when the text carries no round marker."""
    found = _MARKER.match(text)
    if found is None:
        return None
    return int(unicodedata.normalize("NFKC", found[1])), text[found.end() :].strip()


async def quoted_rounds(session: AsyncSession, quoted: str) -> list[Round]:
    """The rounds a quoted message is about: those it names by number, else those whose title it holds (open
    rounds first, then closed ones); empty when it is about none (a colleague's words, the monthly reminder)."""
    numbers = {int(unicodedata.normalize("NFKC", found[1])) for found in _QUOTED_MARKER.finditer(quoted)}
    if numbers:
        named = list(await session.scalars(select(Round).where(Round.id.in_(numbers)).order_by(Round.id)))
        if named:
            return named
    folded = fold(quoted)
    every = list(await session.scalars(select(Round).order_by(Round.id)))
    titled = [r for r in every if len(fold(r.title)) >= TITLE_MIN_CHARS and fold(r.title) in folded]
    return [r for r in titled if r.state == rounds.OPEN] or titled


def parse_fields(text: str, fields: list[str]) -> tuple[dict[str, str], bool]:
    """The named ``fields`` read from ``text``: labelled (``姓名：张三 职务：处长``) or in order (``张三 处长 139…``).

    Returns the values found and whether every field was read; with no fields named, the text is the answer.
    """
    if not fields:
        return {}, True
    cleaned = unicodedata.normalize("NFKC", text).strip()
    labels = "|".join(re.escape(name) for name in fields)
    labelled = list(re.finditer(rf"({labels})\s*[:=]?\s*", cleaned))
    if labelled:
        values: dict[str, str] = {}
        for index, found in enumerate(labelled):
            end = labelled[index + 1].start() if index + 1 < len(labelled) else len(cleaned)
            value = cleaned[found.end() : end].strip(" ,;、，；。")
            if value:
                values[found[1]] = value
        return values, all(name in values for name in fields)
    parts = [part for part in _SEPARATORS.split(cleaned) if part]
    if len(parts) == len(fields):
        return dict(zip(fields, parts, strict=True)), True
    return {}, False


async def file_round_answer(
    session: AsyncSession,
    row: InboxMessage,
    person: Person,
    unit: Unit,
    number: int,
    text: str,
    policy: Policy,
    now: datetime,
) -> None:
    """File ``text`` as ``unit``'s answer to round ``number`` and tell the liaison what was recorded."""
    round_ = await session.get(Round, number)
    if round_ is None:
        reply(session, row, unknown_round(number, await rounds.open_rounds(session)))
        audit(
            session, row, person, action="征集答复", detail=f"#{number}：{text[:200]}", outcome="unknown_round", now=now
        )
        return
    if round_.kind == rounds.MONTHLY:  # "#N …" naming a period's monthly round: a report for that period
        await file_report(session, row, person, unit, text, policy, now=now, period=period_of(round_))
        return
    if unit.id not in await rounds.asked_unit_ids(session, round_):
        reply(session, row, not_asked(round_, unit, policy.office_name))
        audit(session, row, person, action="征集答复", detail=f"#{number}：{text[:200]}", outcome="not_asked", now=now)
        return
    held = await _held(session, person, now) if not text else None
    inbox_id = row.id
    if held is not None:  # "#7" after the bot asked which round a kept message was for: that message answers #7
        text, inbox_id = str(held.payload["text"]), int(held.payload["inbox_id"])
        held.confirmed_at, held.confirmed_by = now, person.id
    if not text:
        reply(session, row, f"请在“#{number}”后写明答复内容。" + format_hint(round_))
        audit(session, row, person, action="征集答复", detail=f"#{number}", outcome="empty", now=now)
        return
    values, parsed = parse_fields(text, list(round_.fields))
    answer = await rounds.add_answer(
        session, round_, unit, text, values=values, parsed=parsed, person=person, inbox_id=inbox_id, now=now
    )
    reply(session, row, answered(round_, unit, answer.version, values, parsed, answer.late, policy))
    outcome = "late" if answer.late else ("unparsed" if not parsed else "ok")
    audit(session, row, person, action="征集答复", detail=f"#{number} 第{answer.version}版", outcome=outcome, now=now)


def format_hint(round_: Round) -> str:
    if not round_.fields:
        return f"例如：#{round_.id} 答复内容"
    example = " ".join(f"{name}：…" for name in round_.fields)
    return f"格式如：#{round_.id} {example}"


def unknown_round(number: int, open_rounds: list[Round]) -> str:
    listing = "、".join(f"#{r.id}“{quote(r.title, max_chars=30)}”" for r in open_rounds) or "暂无"
    return f"未找到编号为#{number}的征集，您的消息已保存。当前正在征集：{listing}。请核对编号后重新发送。"


def not_asked(round_: Round, unit: Unit, office_name: str) -> str:
    return (
        f"{rounds.number_label(round_)}“{quote(round_.title, max_chars=30)}”未向{quote(unit.name)}征集，"
        "您的消息已保存、未计入。"
        f"如确需报送，请联系{office_name}。"
    )


def answered(
    round_: Round, unit: Unit, version: int, values: dict[str, str], parsed: bool, late: bool, policy: Policy
) -> str:
    head = f"已收到{quote(unit.name)}对{rounds.number_label(round_)}“{quote(round_.title, max_chars=30)}”的答复"
    head += f"（第{version}版，以最新一版为准）" if version > 1 else ""
    lines = [head + "。"]
    if values:
        lines.append("；".join(f"{name}：{quote(value, max_chars=40)}" for name, value in values.items()))
    if not parsed:
        lines.append(f"未能逐项识别所填内容，已原文保存并提示办公室核对。{format_hint(round_)}")
    if late:
        when = (
            "本次征集已结束"
            if round_.state == rounds.CLOSED
            else f"已过截止时间{moment_label(round_.deadline, policy.tz)}"
        )
        lines.append(f"{when}，本答复已保存并标注为逾期。")
    return "\n".join(lines)


HOLD = "round-hold"
HOLD_HOURS = 72
MONTHLY_WORDS = frozenset({"月报", "月度报送", "工作进展"})


async def _held(session: AsyncSession, person: Person, now: datetime) -> PendingAction | None:
    """The liaison's latest message kept while the bot asked which round it is for."""
    found: PendingAction | None = await session.scalar(
        select(PendingAction)
        .where(
            PendingAction.kind == HOLD,
            PendingAction.person_id == person.id,
            PendingAction.confirmed_at.is_(None),
            PendingAction.expires_at > now,
        )
        .order_by(PendingAction.created_at.desc())
        .limit(1)
    )
    return found


def names_monthly_report(text: str) -> bool:
    """``月报`` alone: the answer to "which is this message for?" (see :func:`route_unmarked`)."""
    return unicodedata.normalize("NFKC", text).strip() in MONTHLY_WORDS


async def collections_asking(session: AsyncSession) -> list[tuple[Round, set[int]]]:
    """Each open collection with the units it asks: their liaisons' unmarked text may be meant for it."""
    return [(r, set(await rounds.asked_unit_ids(session, r))) for r in await rounds.open_rounds(session)]


async def units_asked(session: AsyncSession) -> set[int]:
    """The units some open collection asks (:func:`collections_asking`), whose unmarked text
    :func:`route_unmarked` must look at: for every other unit it is simply the monthly report."""
    return {unit_id for _, asked in await collections_asking(session) for unit_id in asked}


async def route_unmarked(
    session: AsyncSession, row: InboxMessage, person: Person, unit: Unit, text: str, policy: Policy, now: datetime
) -> str | None:
    """Where a liaison's unmarked text goes while collections are open. Never a silent guess:

    - ``月报`` after the bot asked: the kept message is the monthly report (its text is returned to be filed);
    - no open collection asks the unit: ``text`` is the monthly report, as always;
    - one open collection asks it, with named fields all written out as labels (``姓名：… 职务：…``): clearly not
      a monthly report, so it answers that collection (and the reply says so);
    - otherwise the message is kept and the liaison is asked which it is for (``#N`` or ``月报``); ``None``.
    """
    if names_monthly_report(text):
        held = await _held(session, person, now)
        if held is not None:
            held.confirmed_at, held.confirmed_by = now, person.id
            return str(held.payload["text"])
    asking = [r for r, asked in await collections_asking(session) if unit.id in asked]
    if not asking:
        return text
    if len(asking) == 1 and asking[0].fields:
        parsed = parse_fields(text, list(asking[0].fields))[1]
        if parsed and all(name in text for name in asking[0].fields):
            await file_round_answer(session, row, person, unit, asking[0].id, text, policy, now)
            return None
    hold_and_ask(session, row, person, text, asking, now)
    return None


async def answer_quoting(
    session: AsyncSession,
    row: InboxMessage,
    person: Person,
    unit: Unit,
    quoted: list[Round],
    text: str,
    policy: Policy,
    now: datetime,
) -> None:
    """A liaison's unmarked ``text`` quoting the request of the ``quoted`` rounds: filed as the answer to the one
    round it quotes; when it quotes several, kept and the liaison asked which (those rounds and the open ones
    asking the unit are listed)."""
    if len(quoted) == 1:
        await file_round_answer(session, row, person, unit, quoted[0].id, text, policy, now)
        return
    asking = [r for r in await rounds.open_rounds(session) if unit.id in await rounds.asked_unit_ids(session, r)]
    listed = quoted + [r for r in asking if r not in quoted]
    hold_and_ask(session, row, person, text, listed, now)


def hold_and_ask(
    session: AsyncSession, row: InboxMessage, person: Person, text: str, choices: list[Round], now: datetime
) -> None:
    """Keep ``text`` for the liaison's next ``#N`` (or ``月报``) and ask which of ``choices`` it answers."""
    session.add(
        PendingAction(
            code=f"H{row.id}",
            kind=HOLD,
            payload={"text": text, "inbox_id": row.id},
            person_id=person.id,
            created_at=now,
            expires_at=now + timedelta(hours=HOLD_HOURS),
        )
    )
    listing = "\n".join(f"- {rounds.number_label(r)}“{quote(r.title, max_chars=30)}”：请回复“#{r.id}”" for r in choices)
    reply(
        session,
        row,
        "您的消息已保存。当前有正在进行的征集，为避免记错，请告知这条消息是答复哪一项：\n"
        f"{listing}\n- 本月工作进展报送：请回复“月报”",
    )
    audit(session, row, person, action=REPORT_ACTION, detail=f"待确认去向：{text[:200]}", outcome="ambiguous", now=now)
