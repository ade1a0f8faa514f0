"""A small roster, an office policy and a way to speak as anyone on it, for the handler tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from handlers.dispatch import handle
from storage.db import Database
from storage.models import AuditEntry, Group, GroupMember, InboxMessage, OutboxMessage, Person, Role, Submission, Unit
from storage.periods import DeadlineRule
from storage.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_NAME = "强省会工作机制办公室"
POLICY = Policy(tz=SHANGHAI, office_name=OFFICE_NAME, deadline=DeadlineRule(tz=SHANGHAI))
MEMBER_GROUP = "强省会工作机制群"
OFFICE_GROUP = "工作机制办公室"

_message_ids = itertools.count(1)


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A moment in Shanghai, as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@dataclass
class Roster:
    commerce: Unit  # 省商务厅
    reform: Unit  # 省发展改革委
    industry: Unit  # 省工业和信息化厅
    finance: Unit  # 省财政厅
    liaison: Person  # 省商务厅 A角
    deputy: Person  # 省商务厅 B角
    reform_liaison: Person
    office: Person
    office_deputy: Person
    members: Group
    office_group: Group


async def seed(db: Database) -> Roster:
    """Four units (the finance department without anyone in a group), two liaisons, two office members."""
    async with db.transaction() as session:
        units = [
            Unit(name="省商务厅", division="对外贸易处"),
            Unit(name="省发展改革委", division="综合处"),
            Unit(name="省工业和信息化厅", division="规划处"),
            Unit(name="省财政厅", division="预算处"),
        ]
        session.add_all(units)
        await session.flush()
        commerce, reform, industry, finance = units
        people = [
            Person(name="张伟", role=Role.A, unit_id=commerce.id, wecom_userid="zhangwei", mobile="13800000001"),
            Person(name="李娜", role=Role.B, unit_id=commerce.id, dingtalk_userid="lina-staff", mobile="13800000002"),
            Person(name="王强", role=Role.A, unit_id=reform.id, mobile="13800000003"),
            Person(name="赵敏", role=Role.OFFICE, wecom_userid="zhaomin", mobile="13800000004"),
            Person(name="孙丽", role=Role.OFFICE, mobile="13800000005"),
            Person(name="周杰", role=Role.A, unit_id=industry.id, mobile="13800000006"),
        ]
        session.add_all(people)
        members = Group(name=MEMBER_GROUP, platform="sandbox")
        office_group = Group(name=OFFICE_GROUP, platform="sandbox", is_office=True)
        session.add_all([members, office_group])
        await session.flush()
        liaison, deputy, reform_liaison, office, office_deputy, industry_liaison = people
        for person in (liaison, deputy, reform_liaison, industry_liaison):
            session.add(GroupMember(group_id=members.id, person_id=person.id))
        for person in (office, office_deputy):
            session.add(GroupMember(group_id=office_group.id, person_id=person.id))
    return Roster(
        commerce=commerce,
        reform=reform,
        industry=industry,
        finance=finance,
        liaison=liaison,
        deputy=deputy,
        reform_liaison=reform_liaison,
        office=office,
        office_deputy=office_deputy,
        members=members,
        office_group=office_group,
    )


def inbox_row(
    sender_id: str,
    text: str,
    *,
    platform: str = "sandbox",
    msgtype: str = "text",
    attachments: list[dict[str, Any]] | None = None,
    chat: str = MEMBER_GROUP,
    chat_type: str = "group",
    received_at: datetime | None = None,
    quoted: str = "",
) -> InboxMessage:
    message_id = f"m{next(_message_ids)}"
    return InboxMessage(
        platform=platform,
        channel="sandbox" if platform == "sandbox" else f"{platform}_bot",
        message_id=message_id,
        sender_id=sender_id,
        chat_id=chat,
        chat_type=chat_type,
        msgtype=msgtype,
        text=text,
        quoted=quoted,
        attachments=attachments or [],
        reply={"channel": "sandbox", "target": chat, "rate_key": f"sandbox:{chat}", "address": {"chat": chat}},
        received_at=received_at or datetime.now(UTC),
    )


async def say(
    db: Database,
    person: Person | str,
    text: str,
    at: datetime,
    *,
    policy: Policy = POLICY,
    **row_fields: Any,
) -> list[str]:
    """``person`` (or a raw sandbox sender id) writes ``text`` at ``at``; the bot's replies to it, in order."""
    sender = str(person.id) if isinstance(person, Person) else person
    with time_machine.travel(at, tick=False):
        async with db.transaction() as session:
            row = inbox_row(sender, text, **row_fields)
            session.add(row)
            await session.flush()
            await handle(session, row, policy, datetime.now(UTC))
            inbox_id = row.id
    return await replies_to(db, inbox_id)


async def replies_to(db: Database, inbox_id: int) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.inbox_id == inbox_id).order_by(OutboxMessage.id)
        )
        return [row.message["body"] for row in rows]


async def submissions(db: Database, unit: Unit, period: str = "2026-10") -> list[Submission]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(Submission)
            .where(Submission.unit_id == unit.id, Submission.period == period)
            .order_by(Submission.version)
        )
        return list(rows)


async def audit_entries(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def group_posts(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.group_id.is_not(None)).order_by(OutboxMessage.id)
            )
        )
