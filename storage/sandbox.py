"""The sandbox chat in the database: who speaks (a roster person, named loosely), whether a message has been
handled and answered, and what the bot said since. Shared by the service's ``POST /sandbox/say`` and by
``duban say`` when no service runs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState, Person, SandboxMessage

POLL_SECONDS = 0.05  # a cheap indexed read; a running service usually answers within a few of them


class SpeakerUnclear(LookupError):
    """Nobody on the roster, or more than one person, answers to the name given; the message says which."""


async def resolve_speaker(session: AsyncSession, who: str) -> Person:
    """The roster person ``who`` names: a name, a mobile number, a WeCom, DingTalk or Feishu account, or a roster id.

    An active person is preferred to a stopped one of the same name; a stopped one is still found (the bot then
    answers as it answers anyone not on the roster).
    """
    who = who.strip()
    matches = [
        Person.name == who,
        Person.mobile == who,
        Person.wecom_userid == who,
        Person.dingtalk_userid == who,
        Person.feishu_userid == who,
    ]
    if who.isascii() and who.isdigit() and len(who) <= 9:
        matches.append(Person.id == int(who))
    people = list((await session.scalars(select(Person).where(or_(*matches)).order_by(Person.id))).all())
    active = [person for person in people if person.active]
    candidates = active or people
    if not candidates:
        raise SpeakerUnclear(
            f"名册中没有「{who}」（可用姓名、手机号、企业微信或钉钉账号）。可运行 `duban roster show` 查看名册。"
        )
    if len(candidates) > 1:
        listed = "、".join(f"{p.name}（编号 {p.id}，手机 {p.mobile or '无'}）" for p in candidates)
        raise SpeakerUnclear(f"「{who}」对应多人：{listed}。请改用手机号、账号或名册编号。")
    return candidates[0]


async def latest_transcript_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(SandboxMessage.id), 0))) or 0)


async def settled(session: AsyncSession, message_id: str) -> bool:
    """Has the message been handled, and has every sandbox answer that is due been posted?"""
    state = await session.scalar(
        select(InboxMessage.state).where(InboxMessage.platform == "sandbox", InboxMessage.message_id == message_id)
    )
    if state not in (InboxState.DONE, InboxState.FAILED):
        return False
    unsent = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.channel == "sandbox",
            OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
            OutboxMessage.due_at <= datetime.now(UTC),
        )
    )
    return not unsent


async def wait_until_settled(db: Database, message_id: str, seconds: float) -> bool:
    """:func:`settled`, asked every :data:`POLL_SECONDS` for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        async with db.sessions() as session:
            if await settled(session, message_id):
                return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)


async def transcript_since(session: AsyncSession, after_id: int) -> list[SandboxMessage]:
    query = select(SandboxMessage).where(SandboxMessage.id > after_id).order_by(SandboxMessage.id)
    return list((await session.scalars(query)).all())
