"""Collections (征集) by chat: opened and confirmed by the office, answered by liaisons with ``#N``, checked,
extended and closed — against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers_kit import MEMBER_GROUP, Roster, audit_entries, group_posts, local, say, seed, submissions
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from handlers.round_answers import parse_fields, round_marker
from storage.db import Database
from storage.models import PendingAction, Person, Round, RoundAnswer
from storage.rounds import round_standing

OPENED = local(2026, 3, 10, 10)
REQUEST = "征集 工作专班联系人 截止 3月24日 字段 姓名、职务、手机 请各成员单位确定一名工作专班联系人。"


def code_in(reply: str) -> str:
    found = re.search(r"确认 ([A-Z0-9]{4})", reply)
    assert found is not None, reply
    return found[1]


async def answers(db: Database) -> list[RoundAnswer]:
    async with db.sessions() as session:
        return list(await session.scalars(select(RoundAnswer).order_by(RoundAnswer.id)))


async def open_collection(db: Database) -> tuple[Roster, int]:
    roster = await seed(db)
    (preview,) = await say(db, roster.office, REQUEST, OPENED)
    (confirmed,) = await say(db, roster.office_deputy, f"确认 {code_in(preview)}", OPENED + timedelta(minutes=2))
    found = re.search(r"征集#(\d+)", confirmed)
    assert found is not None, confirmed
    return roster, int(found[1])


async def person_named(db: Database, name: str) -> Person:
    async with db.sessions() as session:
        return (await session.scalars(select(Person).where(Person.name == name))).one()


async def test_an_office_member_opens_a_collection_in_two_steps(db: Database) -> None:
    roster = await seed(db)
    (preview,) = await say(db, roster.office, REQUEST, OPENED)
    code = code_in(preview)
    assert preview.startswith(f"**征集预览**（发送至群“{MEMBER_GROUP}”）\n**征集：工作专班联系人**\n")
    assert "截止时间：3月24日（周二）18:00" in preview
    assert "请各成员单位联络员回复“#编号 姓名：… 职务：… 手机：…”" in preview
    assert await group_posts(db) == []
    async with db.sessions() as session:
        assert (await session.get(PendingAction, code)) is not None

    (confirmed,) = await say(db, roster.office_deputy, f"确认 {code}", OPENED + timedelta(minutes=2))
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
    assert confirmed == f"已确认，征集#{round_.id}已排队发送至1个群：{MEMBER_GROUP}。"
    assert round_.fields == ["姓名", "职务", "手机"]
    assert round_.deadline == local(2026, 3, 24, 18)
    (post,) = await group_posts(db)
    assert post.message["title"] == f"征集#{round_.id}：工作专班联系人"
    assert f"请各成员单位联络员回复“#{round_.id} 姓名：… 职务：… 手机：…”" in post.message["body"]
    assert post.dedupe_key == f"round:{round_.id}:{MEMBER_GROUP}"
    again = await say(db, roster.office, f"确认 {code}", OPENED + timedelta(minutes=3))
    assert len(again) == 1 and "已" in again[0]
    assert len(await group_posts(db)) == 1  # confirmed once, posted once


async def test_liaisons_answer_labelled_in_order_and_unparseable(db: Database) -> None:
    roster, number = await open_collection(db)
    at = OPENED + timedelta(days=1)
    (labelled,) = await say(db, roster.liaison, f"#{number} 姓名：张三 职务：处长 手机：13912345678", at)
    assert labelled.startswith(f"已收到省商务厅对征集#{number}“工作专班联系人”的答复。")
    assert "姓名：张三；职务：处长；手机：13912345678" in labelled
    (ordered,) = await say(db, roster.reform_liaison, f"＃{number}　李四，副处长，13812345678", at)
    assert "姓名：李四；职务：副处长；手机：13812345678" in ordered
    (loose,) = await say(db, await person_named(db, "周杰"), f"征集#{number} 我厅联系人是规划处的同志，电话另告", at)
    assert "未能逐项识别所填内容，已原文保存并提示办公室核对" in loose
    (second,) = await say(db, roster.deputy, f"#{number} 姓名：李娜 职务：副处长 手机：13800000002", at)
    assert "（第2版，以最新一版为准）" in second

    kept = await answers(db)
    assert [answer.parsed for answer in kept] == [True, True, False, True]
    assert kept[2].text == "我厅联系人是规划处的同志，电话另告"
    assert await submissions(db, roster.commerce, "2026-02") == []  # not taken for a monthly report

    (status,) = await say(db, roster.office, f"统计 #{number}", at)
    assert "已答复3家，未答复1家（共4家）" in status
    assert "未答复：省财政厅" in status
    assert "需人工核对（未能逐项识别）：省工业和信息化厅" in status
    async with db.sessions() as session:
        round_ = await session.get(Round, number)
        assert round_ is not None
        standing = await round_standing(session, round_)
    commerce = next(unit for unit in standing.units if unit.unit_name == "省商务厅")
    assert commerce.versions == 2
    assert commerce.values == {"姓名": "李娜", "职务": "副处长", "手机": "13800000002"}


async def test_unknown_closed_and_extended_rounds(db: Database) -> None:
    roster, number = await open_collection(db)
    at = OPENED + timedelta(days=1)
    (unknown,) = await say(db, roster.liaison, "#99 姓名：张三", at)
    assert unknown == (
        f"未找到编号为#99的征集，您的消息已保存。当前正在征集：#{number}“工作专班联系人”。请核对编号后重新发送。"
    )
    assert await answers(db) == []
    assert (await audit_entries(db))[-1].outcome == "unknown_round"

    (closed,) = await say(db, roster.office, f"结束 #{number}", at)
    assert closed.startswith(f"征集#{number}“工作专班联系人”已结束：已答复0家，未答复4家。")
    assert await say(db, roster.office, f"结束 #{number}", at) == [f"征集#{number}此前已结束。"]
    (late,) = await say(db, roster.liaison, f"#{number} 张三 处长 13912345678", at + timedelta(hours=1))
    assert "本次征集已结束，本答复已保存并标注为逾期。" in late
    assert [answer.late for answer in await answers(db)] == [True]

    (extended,) = await say(db, roster.office, f"截止 #{number} 3月31日", at + timedelta(hours=2))
    assert extended == f"征集#{number}的截止时间已调整为3月31日（周二）18:00。"
    (on_time,) = await say(db, roster.reform_liaison, f"#{number} 李四 副处长 13812345678", at + timedelta(hours=3))
    assert "逾期" not in on_time
    (status,) = await say(db, roster.office, f"统计 #{number}", at + timedelta(hours=3))
    assert "逾期答复：省商务厅" in status


async def test_an_answer_after_the_deadline_is_on_time_once_the_office_extends(db: Database) -> None:
    roster, number = await open_collection(db)  # due 24 March, 18:00
    (late,) = await say(db, roster.liaison, f"#{number} 张三 处长 13912345678", local(2026, 3, 25, 9))
    assert "逾期" in late and [answer.late for answer in await answers(db)] == [True]
    (extended,) = await say(db, roster.office, f"截止 #{number} 3月31日", local(2026, 3, 25, 10))
    assert extended == (
        f"征集#{number}的截止时间已调整为3月31日（周二）18:00。按新的截止时间，此前收到的答复中1份改记为按时。"
    )
    assert [answer.late for answer in await answers(db)] == [False]
    (status,) = await say(db, roster.office, f"统计 #{number}", local(2026, 3, 25, 11))
    assert "逾期答复" not in status


async def test_office_refusals_change_nothing(db: Database) -> None:
    roster = await seed(db)
    (past,) = await say(db, roster.office, "征集 联系人 截止 2026-03-01 请报送", OPENED)
    assert past == "截止日期2026年3月1日（周日）已过，请重新确定截止日期后再发起征集。"
    (usage,) = await say(db, roster.office, "征集 联系人", OPENED)
    assert usage.startswith("征集命令用法：")
    (unknown,) = await say(db, roster.office, "统计 #5", OPENED)
    assert unknown == "未找到征集#5。当前正在征集：暂无。用法：统计 #编号 …"
    async with db.sessions() as session:
        assert list(await session.scalars(select(PendingAction))) == []
        assert list(await session.scalars(select(Round))) == []
    (monthly,) = await say(db, roster.office, "统计", OPENED)
    assert "按时报送率" in monthly or "报送" in monthly  # ``统计`` alone is still the monthly report


def test_markers_and_fields_are_read_as_people_write_them() -> None:
    assert round_marker("#7 内容") == (7, "内容")
    assert round_marker("＃７：内容") == (7, "内容")
    assert round_marker("征集#12号 内容") == (12, "内容")
    assert round_marker("关于#7的说明") is None
    fields = ["姓名", "职务", "手机"]
    assert parse_fields("姓名：张三 职务：处长 手机：139", fields) == (
        {"姓名": "张三", "职务": "处长", "手机": "139"},
        True,
    )
    assert parse_fields("张三、处长、139", fields) == ({"姓名": "张三", "职务": "处长", "手机": "139"}, True)
    assert parse_fields("姓名：张三", fields) == ({"姓名": "张三"}, False)
    assert parse_fields("张三 处长", fields) == ({}, False)
    assert parse_fields("自由文本", []) == ({}, True)


async def test_unmarked_answers_are_filed_only_when_clear_and_asked_about_otherwise(db: Database) -> None:
    roster, number = await open_collection(db)
    at = OPENED + timedelta(days=1)
    # Only one open collection, every named field written out: clearly not a monthly report.
    (clear,) = await say(db, roster.liaison, "姓名：张三 职务：处长 手机：13912345678", at)
    assert clear.startswith(f"已收到省商务厅对征集#{number}“工作专班联系人”的答复。")
    # Free text while a collection is open: kept, and the liaison is asked which it is for.
    (asked,) = await say(db, roster.reform_liaison, "我委联系人为综合处李四同志", at)
    assert asked.startswith("您的消息已保存。当前有正在进行的征集，为避免记错，请告知这条消息是答复哪一项：")
    assert f"- 征集#{number}“工作专班联系人”：请回复“#{number}”" in asked
    assert "- 本月工作进展报送：请回复“月报”" in asked
    assert [answer.unit_id for answer in await answers(db)] == [roster.commerce.id]
    (filed,) = await say(db, roster.reform_liaison, f"#{number}", at + timedelta(minutes=5))
    assert filed.startswith(f"已收到省发展改革委对征集#{number}“工作专班联系人”的答复。")
    assert (await answers(db))[-1].text == "我委联系人为综合处李四同志"
    # The same for a monthly report: kept, then filed as the report on "月报".
    report = "一、本月重点工作推进顺利；二、下月计划开展专项督查。"
    (asked_again,) = await say(db, roster.reform_liaison, report, at + timedelta(minutes=10))
    assert asked_again.startswith("您的消息已保存。")
    assert await submissions(db, roster.reform, "2026-02") == []
    await say(db, roster.reform_liaison, "月报", at + timedelta(minutes=11))
    (kept,) = await submissions(db, roster.reform, "2026-02")
    assert kept.text == report
    # Once the collection is closed, unmarked text is the monthly report again, without a question.
    await say(db, roster.office, f"结束 #{number}", at + timedelta(hours=1))
    (plain,) = await say(db, roster.liaison, "补充：本月还完成了项目验收。", at + timedelta(hours=2))
    assert "征集" not in plain


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_the_answer_parsers_never_fail(text: str) -> None:
    marked = round_marker(text)
    assert marked is None or marked[0] >= 0
    values, parsed = parse_fields(text, ["姓名", "职务", "手机"])
    assert set(values) <= {"姓名", "职务", "手机"}
    assert not parsed or len(values) == 3
