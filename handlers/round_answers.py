"""A liaison's answer to a round (``#7 姓名：张三 职务：处长 手机：139…``): parsed into the named fields, kept.

Nothing a liaison sends is lost: an answer to a closed or unknown round, from a unit the round did not ask, or
one whose fields cannot be read is still stored (or left in the inbox) and the sender is told, courteously,
what happened.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.respond import audit, reply
from schedules.dates import moment_label
from storage import rounds
from storage.models import InboxMessage, Person, Round, Unit
from storage.outbound import quote
from storage.policy import Policy

_MARKER = re.compile(r"^\s*(?:征集)?[#＃]\s*([0-9０-９]{1,9})(?:号)?[\s:：,，、.。]*")
_SEPARATORS = re.compile(r"[\s,，、;；/]+")


def round_marker(text: str) -> tuple[int, str] | None:
    """``#7 内容`` or ``征集#7：内容`` → (7, ``内容``); ``None`` when the text carries no round marker."""
    found = _MARKER.match(text)
    if found is None:
        return None
    return int(unicodedata.normalize("NFKC", found[1])), text[found.end() :].strip()


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
    if unit.id not in await rounds.asked_unit_ids(session, round_):
        reply(session, row, not_asked(round_, unit, policy.office_name))
        audit(session, row, person, action="征集答复", detail=f"#{number}：{text[:200]}", outcome="not_asked", now=now)
        return
    if not text:
        reply(session, row, f"请在“#{number}”后写明答复内容。" + format_hint(round_))
        audit(session, row, person, action="征集答复", detail=f"#{number}", outcome="empty", now=now)
        return
    values, parsed = parse_fields(text, list(round_.fields))
    answer = await rounds.add_answer(
        session, round_, unit, text, values=values, parsed=parsed, person=person, inbox_id=row.id, now=now
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
        f"征集#{round_.id}“{quote(round_.title, max_chars=30)}”未向{quote(unit.name)}征集，您的消息已保存、未计入。"
        f"如确需报送，请联系{office_name}。"
    )


def answered(
    round_: Round, unit: Unit, version: int, values: dict[str, str], parsed: bool, late: bool, policy: Policy
) -> str:
    head = f"已收到{quote(unit.name)}对征集#{round_.id}“{quote(round_.title, max_chars=30)}”的答复"
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
