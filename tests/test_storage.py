"""Models and shared queries, each case on SQLite and (where reachable) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.inbox import InboundMessage, ReplyRoute, store_inbound
from storage.models import Group, InboxMessage, OutboxMessage, Person, Role, Submission, Unit
from storage.outbound import Mention, OutboundMessage, enqueue_reply, enqueue_to_group, quote
from storage.periods import DeadlineRule, Period
from storage.standing import period_standing

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULE = DeadlineRule(tz=SHANGHAI, day=25, at=time(23, 59, 59))


def inbound(message_id: str, text: str = "10月工作进展") -> InboundMessage:
    return InboundMessage(
        platform="wecom",
        channel="wecom_bot",
        message_id=message_id,
        sender_id="zhangsan",
        text=text,
        reply=ReplyRoute("wecom_response_url", "zhangsan", f"wecom_response_url:{message_id}", {"url": "http://x"}),
    )


async def test_inbox_is_unique_on_platform_and_message_id(db: Database) -> None:
    async with db.transaction() as session:
        first = await store_inbound(session, inbound("m1"))
        again = await store_inbound(session, inbound("m1", "a retry"))
        other = await store_inbound(session, inbound("m2"))
    assert first is not None and other is not None
    assert again is None
    async with db.sessions() as session:
        rows = (await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all()
    assert [(r.message_id, r.text) for r in rows] == [("m1", "10月工作进展"), ("m2", "10月工作进展")]
    assert rows[0].reply["channel"] == "wecom_response_url"
    assert rows[0].received_at.tzinfo is UTC


async def test_submission_versions_are_unique_per_unit_and_period(db: Database) -> None:
    async with db.transaction() as session:
        unit = Unit(name="省商务厅")
        session.add(unit)
        await session.flush()
        session.add(Submission(unit_id=unit.id, period="2026-10", version=1, text="v1", on_time=True))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(Submission(unit_id=unit.id, period="2026-10", version=1, text="dup", on_time=True))
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 1


async def test_accounts_are_unique_across_people(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Person(name="甲", role=Role.A, wecom_userid="u1", mobile="13900000001"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(Person(name="乙", role=Role.B, wecom_userid="u1", mobile="13900000002"))


async def test_period_standing(db: Database) -> None:
    period = Period(2026, 10)
    deadline = RULE.deadline(period)
    async with db.transaction() as session:
        units = [Unit(name=name) for name in ("甲单位", "乙单位", "丙单位", "丁单位")]
        units.append(Unit(name="已撤销单位", active=False))
        session.add_all(units)
        await session.flush()
        on_time, late, corrected, _missing, inactive = units
        session.add_all(
            [
                Submission(unit_id=on_time.id, period="2026-10", version=1, text="", on_time=True,
                           received_at=deadline - timedelta(days=3)),
                Submission(unit_id=late.id, period="2026-10", version=1, text="", on_time=False,
                           received_at=deadline + timedelta(seconds=1)),
                Submission(unit_id=corrected.id, period="2026-10", version=1, text="", on_time=True,
                           received_at=deadline - timedelta(hours=1)),
                Submission(unit_id=corrected.id, period="2026-10", version=2, text="", on_time=False,
                           received_at=deadline + timedelta(hours=1)),
                Submission(unit_id=inactive.id, period="2026-10", version=1, text="", on_time=True),
                Submission(unit_id=on_time.id, period="2026-09", version=1, text="", on_time=False),
            ]
        )  # fmt: skip
    async with db.sessions() as session:
        standing = await period_standing(session, period)
    assert [u.unit_name for u in standing.on_time] == ["甲单位", "丙单位"]
    assert [u.unit_name for u in standing.late] == ["乙单位"]
    assert [u.unit_name for u in standing.missing] == ["丁单位"]
    assert standing.on_time_rate == 0.5
    corrected_standing = standing.units[2]
    assert corrected_standing.versions == 2
    assert corrected_standing.latest_at == deadline + timedelta(hours=1)


async def test_outbox_rows_for_groups_and_replies(db: Database) -> None:
    async with db.transaction() as session:
        group = Group(name="强省会工作机制群", platform="dingtalk", webhook="https://example.invalid/robot")
        session.add(group)
        await session.flush()
        row = await store_inbound(session, inbound("m9"))
        assert row is not None
        message = OutboundMessage(body="请按时报送", mentions=[Mention(name="张三", dingtalk_userid="zs")])
        enqueue_to_group(session, group, message, origin="remind", dedupe_key="remind:1")
        enqueue_reply(session, row, OutboundMessage(body="已收到"))
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(r.channel, r.target, r.rate_key) for r in rows] == [
        ("dingtalk_robot", "强省会工作机制群", "group:强省会工作机制群"),
        ("wecom_response_url", "zhangsan", "wecom_response_url:m9"),
    ]
    assert OutboundMessage.model_validate(rows[0].message).mentions[0].dingtalk_userid == "zs"
    assert rows[1].address == {"url": "http://x"}
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            group = (await session.scalars(select(Group))).one()
            enqueue_to_group(session, group, OutboundMessage(body="again"), origin="remind", dedupe_key="remind:1")


def test_periods_and_deadlines() -> None:
    assert Period.parse("2026-10") == Period(2026, 10)
    assert str(Period(2026, 1).previous()) == "2025-12"
    assert str(Period(2026, 12).next()) == "2027-01"
    assert Period(2026, 10).label == "2026年10月"
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse("2026/10")
    with pytest.raises(ValueError):
        Period(2026, 13)
    period = Period(2026, 10)
    assert RULE.due_date(period).isoformat() == "2026-11-25"
    last_moment = datetime(2026, 11, 25, 23, 59, 59, tzinfo=SHANGHAI)
    assert RULE.is_on_time(period, last_moment.astimezone(UTC))
    assert RULE.is_on_time(period, (last_moment + timedelta(milliseconds=999)).astimezone(UTC))
    assert not RULE.is_on_time(period, (last_moment + timedelta(seconds=1)).astimezone(UTC))
    # Just after midnight on 1 December in Shanghai is still 30 November in UTC: the local month decides.
    assert RULE.open_period(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == Period(2026, 11)
    assert RULE.open_period(datetime(2026, 1, 10, tzinfo=UTC)) == Period(2025, 12)


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("<@zhangsan> 请看", "<@"),
        ("@all 紧急", "@all"),
        ("[点我](https://evil.example)", "](http"),
        ("**加粗** <font color='warning'>红</font>", "<font"),
        ("\u202eevil", "\u202e"),
        ("javascript:alert(1)", "javascript:"),
    ],
)
def test_quote_makes_text_inert(raw: str, forbidden: str) -> None:
    quoted = quote(raw)
    assert forbidden not in quoted
    assert "@" not in quoted and "<" not in quoted and "[" not in quoted
    assert quote("一二三四五", max_chars=3) == "一二…"
