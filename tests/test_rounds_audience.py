"""A round's audience as an explicit list of units (``征集 … 单位 发改委、商务厅 …``): only those units are asked,
counted, reminded and exported; another unit's answer is explained and kept; names that are no unit (or several)
are answered clearly and open nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from handlers_kit import MEMBER_GROUP, audit_entries, group_posts, local, say, seed
from schedules_kit import jobs, posts
from sqlalchemy import select

from bot.workbooks.rounds import build_round_workbook
from schedules.jobs import run_job
from schedules.kinds.round_reminder import RoundReminderSettings
from storage.db import Database
from storage.models import PendingAction, Round, RoundAnswer
from storage.rounds import round_standing

OPENED = local(2026, 3, 10, 10)
REQUEST = "征集 专项资金需求 截止 3月24日 单位 发改委、商务厅 @强省会工作机制群 字段 金额、用途 请报送专项资金需求。"


def code_in(reply: str) -> str:
    found = re.search(r"确认 ([A-Z0-9]{4})", reply)
    assert found is not None, reply
    return found[1]


async def test_only_the_listed_units_are_asked_counted_reminded_and_exported(db: Database) -> None:
    roster = await seed(db)
    (preview,) = await say(db, roster.office, REQUEST, OPENED)
    assert preview.startswith(f"**征集预览**（发送至群“{MEMBER_GROUP}”）\n**征集：专项资金需求**\n请报送专项资金需求。")
    assert "征集对象：省商务厅、省发展改革委（共2家）。请以上单位联络员回复“#编号 金额：… 用途：…”。" in preview
    (confirmed,) = await say(db, roster.office, f"确认 {code_in(preview)}", OPENED + timedelta(minutes=1))
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
    assert confirmed.startswith(f"已确认，征集#{round_.id}已排队发送")
    assert sorted(round_.units) == sorted([roster.commerce.id, roster.reform.id])
    assert (round_.group, round_.fields) == (MEMBER_GROUP, ["金额", "用途"])
    (post,) = await group_posts(db)
    assert (
        f"征集对象：省商务厅、省发展改革委（共2家）。请以上单位联络员回复“#{round_.id} 金额：… 用途：…”。"
        in (post.message["body"])
    )

    at = OPENED + timedelta(days=1)
    (answered,) = await say(db, roster.reform_liaison, f"#{round_.id} 金额：500万元 用途：园区道路", at)
    assert answered.startswith(f"已收到省发展改革委对征集#{round_.id}“专项资金需求”的答复。")
    # 周杰's unit sits in the same group but was not asked: told so, the message kept in the inbox, nothing counted.
    (refused,) = await say(db, "6", f"#{round_.id} 金额：100万元 用途：技改", at)
    assert refused == (
        f"征集#{round_.id}“专项资金需求”未向省工业和信息化厅征集，您的消息已保存、未计入。如确需报送，请联系强省会工作机制办公室。"
    )
    assert (await audit_entries(db))[-1].outcome == "not_asked"
    async with db.sessions() as session:
        assert [a.unit_id for a in await session.scalars(select(RoundAnswer))] == [roster.reform.id]

    (status,) = await say(db, roster.office, f"统计 #{round_.id}", at)
    assert "已答复1家，未答复1家（共2家）" in status and "未答复：省商务厅" in status

    reminder_at = local(2026, 3, 20, 10)
    with time_machine.travel(reminder_at + timedelta(minutes=1), tick=False):
        ctx = jobs(db, round_reminder=RoundReminderSettings())
        assert (await run_job(ctx, "round-reminder", reminder_at)).status == "posted"
    (reminder,) = await posts(db, origin="round-reminder")
    assert "以下单位尚未答复：省商务厅。" in reminder.message["body"]
    assert {mention["name"] for mention in reminder.message["mentions"]} == {"张伟", "李娜"}  # 周杰 is not chased

    async with db.sessions() as session:
        standing = await round_standing(session, round_)
    sheet = build_round_workbook(
        standing, tz=local(2026, 3, 1).tzinfo or UTC, office_name="办公室", now=datetime.now(UTC)
    ).active
    assert sheet is not None
    assert [row[1] for row in sheet.iter_rows(min_row=3, values_only=True)] == ["省商务厅", "省发展改革委"]


async def test_unknown_or_ambiguous_unit_names_open_nothing(db: Database) -> None:
    roster = await seed(db)
    (unknown,) = await say(db, roster.office, "征集 专项资金需求 截止 3月24日 单位 发改委、交通局、省 请报送。", OPENED)
    assert unknown.startswith("征集未发起：以下单位名称需核对。\n未找到：“交通局”\n")
    assert "“省”可指4个单位：省商务厅、省发展改革委、省工业和信息化厅、省财政厅" in unknown
    assert "在册成员单位：省商务厅、省发展改革委、省工业和信息化厅、省财政厅" in unknown
    assert (await audit_entries(db))[-1].outcome == "unknown_unit"
    async with db.sessions() as session:
        assert list(await session.scalars(select(PendingAction))) == []
        assert list(await session.scalars(select(Round))) == []
    # Full names, parts of names and short forms each name one unit; the clauses come in any order.
    (preview,) = await say(
        db, roster.office, "征集 联系人 截止 3月24日 字段 姓名 单位 省财政厅，工信厅 请报送联系人。", OPENED
    )
    assert "征集对象：省工业和信息化厅、省财政厅（共2家）" in preview
    assert "请报送联系人。" in preview and "单位" not in preview.split("\n")[2]
