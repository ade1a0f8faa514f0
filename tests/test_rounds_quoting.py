"""Answering a round by quoting its request (no ``#N`` needed), against a real database (SQLite and PostgreSQL):
the round is recognised in the quoted text by its marker or its title; a quote naming several rounds is kept and
the liaison asked which; a quote about no round changes nothing in how the message is read."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers_kit import audit_entries, group_posts, local, say, seed, submissions
from sqlalchemy import select

from handlers.round_answers import quoted_rounds, round_marker
from storage.db import Database
from storage.models import PendingAction, Person, Round, RoundAnswer

OPENED = local(2026, 3, 10, 10)
CONTACTS = "征集 工作专班联系人 截止 3月24日 字段 姓名、职务、手机 请各成员单位确定一名工作专班联系人。"
MATERIALS = "征集 年度考评材料 截止 3月27日 请报送年度考评材料。"


def code_in(reply: str) -> str:
    found = re.search(r"确认 ([A-Z0-9]{4})", reply)
    assert found is not None, reply
    return found[1]


async def open_round(db: Database, office: Person, request: str) -> tuple[int, str]:
    """The office opens a collection; its number and the request as posted to the group."""
    (preview,) = await say(db, office, request, OPENED)
    (confirmed,) = await say(db, office, f"确认 {code_in(preview)}", OPENED + timedelta(minutes=1))
    number = int(re.findall(r"征集#(\d+)", confirmed)[0])
    post = (await group_posts(db))[-1]
    return number, str(post.message["body"])


async def answers(db: Database) -> list[RoundAnswer]:
    async with db.sessions() as session:
        return list(await session.scalars(select(RoundAnswer).order_by(RoundAnswer.id)))


async def test_quoting_a_request_files_the_answer_to_that_round(db: Database) -> None:
    roster = await seed(db)
    contacts, contacts_post = await open_round(db, roster.office, CONTACTS)
    materials, materials_post = await open_round(db, roster.office, MATERIALS)
    at = OPENED + timedelta(days=1)
    # Two collections open: without the quote this free text would be kept and asked about.
    (filed,) = await say(db, roster.liaison, "张三，处长，13912345678", at, quoted=contacts_post)
    assert filed.startswith(f"已收到省商务厅对征集#{contacts}“工作专班联系人”的答复。")
    assert "姓名：张三；职务：处长；手机：13912345678" in filed
    (other,) = await say(db, roster.reform_liaison, "我委考评材料见附件说明，共三部分。", at, quoted=materials_post)
    assert other.startswith(f"已收到省发展改革委对征集#{materials}“年度考评材料”的答复。")
    kept = await answers(db)
    assert [(a.round_id, a.unit_id) for a in kept] == [(contacts, roster.commerce.id), (materials, roster.reform.id)]
    assert kept[0].values == {"姓名": "张三", "职务": "处长", "手机": "13912345678"}
    # The platform may render the markdown away or the liaison quote only the title line: the title is enough.
    (by_title,) = await say(db, roster.deputy, "李娜 副处长 13800000002", at, quoted="工作专班联系人")
    assert f"征集#{contacts}" in by_title and "（第2版，以最新一版为准）" in by_title
    # An explicit marker wins over the quote.
    (marked,) = await say(db, roster.liaison, f"#{materials} 考评材料已报送", at, quoted=contacts_post)
    assert f"征集#{materials}" in marked
    assert await submissions(db, roster.commerce, "2026-02") == []  # nothing became a monthly report


def test_a_meeting_marker_is_a_round_marker() -> None:
    assert round_marker("会议#8 参会人员：张三") == (8, "参会人员：张三")
    assert round_marker("会议 #8") is None  # "会议 …" is the office's command, not an answer


async def test_a_quote_naming_several_rounds_is_kept_and_asked_about(db: Database) -> None:
    roster = await seed(db)
    contacts, _ = await open_round(db, roster.office, CONTACTS)
    materials, _ = await open_round(db, roster.office, MATERIALS)
    reminder = (
        f"征集#{contacts}“工作专班联系人”截止时间为3月24日18:00，以下单位尚未答复：省商务厅。\n"
        f"征集#{materials}“年度考评材料”截止时间为3月27日18:00，以下单位尚未答复：省商务厅。"
    )
    at = OPENED + timedelta(days=2)
    (asked,) = await say(db, roster.liaison, "我厅联系人为外贸处张三同志", at, quoted=reminder)
    assert asked.startswith("您的消息已保存。当前有正在进行的征集，为避免记错，请告知这条消息是答复哪一项：")
    assert f"- 征集#{contacts}“工作专班联系人”：请回复“#{contacts}”" in asked
    assert f"- 征集#{materials}“年度考评材料”：请回复“#{materials}”" in asked
    assert await answers(db) == []
    assert (await audit_entries(db))[-1].outcome == "ambiguous"
    (filed,) = await say(db, roster.liaison, f"#{contacts}", at + timedelta(minutes=3))
    assert filed.startswith(f"已收到省商务厅对征集#{contacts}“工作专班联系人”的答复。")
    (answer,) = await answers(db)
    assert (answer.round_id, answer.text) == (contacts, "我厅联系人为外贸处张三同志")
    async with db.sessions() as session:
        (hold,) = await session.scalars(select(PendingAction).where(PendingAction.kind == "round-hold"))
    assert hold.confirmed_at is not None and answer.inbox_id == int(hold.payload["inbox_id"])


async def test_a_quote_about_no_round_is_read_as_before(db: Database) -> None:
    roster = await seed(db)
    at = OPENED + timedelta(days=1)
    report = "2月工作进展：一是完成外贸项目3个；二是新增出口企业12家。"
    # No round at all: quoting a colleague's words, the text is the monthly report as always.
    (filed,) = await say(db, roster.liaison, report, at, quoted="请各单位抓紧报送2月工作进展")
    assert "已收到【省商务厅】" in filed
    number, _ = await open_round(db, roster.office, CONTACTS)
    # A collection open, a quote that names none: the message is kept and the liaison asked, exactly as unquoted.
    (asked,) = await say(db, roster.reform_liaison, "我委联系人为综合处李四同志", at, quoted="收到，马上安排")
    assert asked.startswith("您的消息已保存。") and f"#{number}" in asked
    # A quoted "#号" that is no round's number, or a title too short to tell, is no round either.
    async with db.sessions() as session:
        assert await quoted_rounds(session, "3#楼会议室 #999") == []
        assert [r.id for r in await quoted_rounds(session, f"＃{number}")] == [number]


async def test_quoting_the_monthly_rounds_message_files_a_monthly_report(db: Database) -> None:
    roster = await seed(db)
    (status,) = await say(db, roster.office, "统计", OPENED)  # the monthly round of 2026年2月 shows its number
    found = re.search(r"月报#(\d+)", status)
    assert found is not None, status
    await open_round(db, roster.office, CONTACTS)  # a collection open: unquoted, the report would be asked about
    report = "一是完成外贸项目3个；二是新增出口企业12家。"
    (filed,) = await say(db, roster.liaison, report, OPENED + timedelta(days=1), quoted=status.splitlines()[0])
    assert filed.startswith("已收到【省商务厅】") and "2026年2月" in filed
    (kept,) = await submissions(db, roster.commerce, "2026-02")
    assert kept.text == report
    assert await answers(db) == []  # nothing filed to the collection


async def test_quoting_a_request_not_asked_of_the_unit_or_closed_keeps_the_message(db: Database) -> None:
    roster = await seed(db)
    number, post = await open_round(db, roster.office, "征集 专项资金需求 截止 3月24日 单位 省商务厅 请报送需求。")
    at = OPENED + timedelta(days=1)
    (refused,) = await say(db, roster.reform_liaison, "我委无资金需求。", at, quoted=post)
    assert refused.startswith(f"征集#{number}“专项资金需求”未向省发展改革委征集，您的消息已保存、未计入。")
    await say(db, roster.office, f"结束 #{number}", at)
    (late,) = await say(db, roster.liaison, "我厅需求500万元。", at + timedelta(hours=1), quoted=post)
    assert "本次征集已结束，本答复已保存并标注为逾期。" in late
    async with db.sessions() as session:
        round_ = await session.get(Round, number)
        assert round_ is not None and round_.state == "closed"
    assert [(a.unit_id, a.late) for a in await answers(db)] == [(roster.commerce.id, True)]
