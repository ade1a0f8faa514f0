"""The 督办 ledger by chat: every transition, every refusal, the timeline and the audit."""

import asyncio
from datetime import date

import pytest
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, Roster, audit_entries, group_posts, local, say, seed
from sqlalchemy import select

from handlers.commands.item_args import item_reference, parse_date, split_assignment, split_date
from storage import items as ledger
from storage.db import Database
from storage.models import Item, ItemEvent, ItemState

MONDAY = local(2026, 11, 23, 9)  # a working day


async def item(db: Database, number: int) -> Item:
    async with db.sessions() as session:
        found = await ledger.by_number(session, number)
        assert found is not None
        return found


async def events(db: Database, number: int) -> list[ItemEvent]:
    async with db.sessions() as session:
        found = await session.scalar(select(Item.id).where(Item.number == number))
        assert found is not None
        return await ledger.events_of(session, found)


async def raised_and_assigned(db: Database, roster: Roster) -> None:
    (answer,) = await say(db, roster.liaison, "问题 外贸企业用地审批慢：园区3家企业用地手续两月未批复。", MONDAY)
    assert "#1" in answer and "待交办" in answer
    await say(db, roster.office, "交办 #1 省发展改革委 配合 省商务厅、省财政厅 截止 12月10日", MONDAY)


async def test_full_cycle_raise_assign_sign_progress_done_close(db: Database) -> None:
    roster = await seed(db)
    await raised_and_assigned(db, roster)
    found = await item(db, 1)
    assert found.state is ItemState.ASSIGNED
    assert found.lead_unit is not None and found.lead_unit.name == "省发展改革委"
    assert [unit.name for unit in found.supporting_units] == ["省商务厅", "省财政厅"]
    assert found.due == date(2026, 12, 10) and found.raised_by_office is False
    posts = await group_posts(db)
    office_post = next(p for p in posts if p.target == OFFICE_GROUP)
    assert "外贸企业用地审批慢" in office_post.message["body"] and "交办 #1" in office_post.message["body"]
    member_post = next(p for p in posts if p.target == MEMBER_GROUP)
    mentioned = {m["name"] for m in member_post.message["mentions"]}
    assert mentioned == {"王强", "张伟", "李娜"}  # the lead's liaison and the supporting unit's A and B
    assert "签收 #1" in member_post.message["body"] and "配合单位" in member_post.message["body"]

    (answer,) = await say(db, roster.reform_liaison, "签收 #1", local(2026, 11, 24, 9))
    assert "办理中" in answer
    assert (await item(db, 1)).state is ItemState.IN_PROGRESS
    (answer,) = await say(db, roster.reform_liaison, "进展 ＃1 已召开专题协调会", local(2026, 11, 26, 9))
    assert "已记录" in answer
    (answer,) = await say(db, roster.liaison, "进展 #1 配合提供企业清单", local(2026, 11, 26, 10))
    assert "已记录" in answer  # a supporting unit's liaison may add progress
    (answer,) = await say(db, roster.reform_liaison, "办结 #1 用地手续已全部批复", local(2026, 12, 1, 9))
    assert "待审核" in answer
    assert (await item(db, 1)).state is ItemState.REVIEW
    office_notice = [p for p in await group_posts(db) if p.target == OFFICE_GROUP][-1]
    assert "用地手续已全部批复" in office_notice.message["body"] and "销号 #1" in office_notice.message["body"]
    (answer,) = await say(db, roster.office, "销号 #1", local(2026, 12, 2, 9))
    assert "已办结" in answer
    closed = await item(db, 1)
    assert closed.state is ItemState.CLOSED and closed.closed_at is not None
    steps = [e.action for e in await events(db, 1)]
    assert steps == ["raise", "assign", "sign", "progress", "progress", "done", "close"]
    outcomes = [(a.action, a.outcome) for a in await audit_entries(db)]
    assert ("销号", "ok") in outcomes and ("交办", "ok") in outcomes


async def test_reject_extend_and_stop(db: Database) -> None:
    roster = await seed(db)
    await raised_and_assigned(db, roster)
    await say(db, roster.reform_liaison, "办结 #1 已办理", local(2026, 11, 24, 9))
    (answer,) = await say(db, roster.office, "退回 #1 请补充企业反馈意见", local(2026, 11, 24, 10))
    assert "办理中" in answer
    assert (await item(db, 1)).state is ItemState.IN_PROGRESS
    notice = (await group_posts(db))[-1]
    assert notice.target == MEMBER_GROUP and "请补充企业反馈意见" in notice.message["body"]
    assert [m["name"] for m in notice.message["mentions"]] == ["王强"]

    (answer,) = await say(db, roster.office, "延期 #1 2026年12月20日 需省级部门会商", local(2026, 11, 25, 9))
    assert "2026年12月10日调整为2026年12月20日" in answer
    extend = (await events(db, 1))[-1]
    assert (extend.action, extend.text, extend.old_due, extend.new_due) == (
        "extend",
        "需省级部门会商",
        date(2026, 12, 10),
        date(2026, 12, 20),
    )
    (answer,) = await say(db, roster.office, "中止 #1 企业已自行解决", local(2026, 11, 26, 9))
    assert "已中止" in answer
    stopped = await item(db, 1)
    assert stopped.state is ItemState.STOPPED and stopped.closed_at is not None


async def test_refusals_wrong_person(db: Database) -> None:
    roster = await seed(db)
    (answer,) = await say(db, roster.liaison, "交办 #1 省商务厅 截止 12月10日", MONDAY)
    assert "办公室" in answer  # office-only word from a liaison
    await raised_and_assigned(db, roster)
    (answer,) = await say(db, roster.liaison, "签收 #1", MONDAY)  # supporting unit, not the lead
    assert "只能由牵头单位省发展改革委的联络员" in answer
    (answer,) = await say(db, roster.office, "签收 #1", MONDAY)
    assert "联络员" in answer
    (answer,) = await say(db, roster.reform_liaison, "销号 #1", MONDAY)
    assert "办公室" in answer
    await say(db, roster.reform_liaison, "签收 #1", MONDAY)
    (answer,) = await say(db, roster.liaison, "办结 #1 好了", MONDAY)
    assert "只能由牵头单位" in answer
    assert (await item(db, 1)).state is ItemState.IN_PROGRESS
    refused = [a for a in await audit_entries(db) if a.outcome == "refused"]
    assert {a.action for a in refused} >= {"交办", "签收", "销号", "办结"}


async def test_refusals_wrong_state_unknown_item_and_usage(db: Database) -> None:
    roster = await seed(db)
    (answer,) = await say(db, roster.office, "销号 #7", MONDAY)
    assert "未找到编号为#7的事项" in answer
    (answer,) = await say(db, roster.office, "销号", MONDAY)
    assert "请写明事项编号" in answer
    (answer,) = await say(db, roster.liaison, "问题", MONDAY)
    assert "请写明问题的标题" in answer
    await raised_and_assigned(db, roster)
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅 截止 12月12日", MONDAY)
    assert "当前状态为“已交办”" in answer
    (answer,) = await say(db, roster.office, "销号 #1", MONDAY)
    assert "只有“待审核”的事项可以销号" in answer
    (answer,) = await say(db, roster.office, "退回 #1 不行", MONDAY)
    assert "当前状态为“已交办”" in answer
    (answer,) = await say(db, roster.reform_liaison, "进展 #1", MONDAY)
    assert "请写明事项编号和进展内容" in answer
    assert (await item(db, 1)).state is ItemState.ASSIGNED
    outcomes = {a.outcome for a in await audit_entries(db)}
    assert {"unknown_item", "wrong_state", "invalid"} <= outcomes


async def test_refusals_units_and_dates(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "问题：园区道路未通", MONDAY)
    (answer,) = await say(db, roster.office, "交办 #1 省教育厅 截止 12月10日", MONDAY)
    assert "未找到名为“省教育厅”的成员单位" in answer
    (answer,) = await say(db, roster.office, "交办 #1 厅 截止 12月10日", MONDAY)
    assert "可能指以下单位" in answer and "省商务厅" in answer and "省财政厅" in answer
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅 截止 2026-11-20", MONDAY)
    assert "早于今天" in answer
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅 截止 明天", MONDAY)
    assert "未能识别日期" in answer
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅", MONDAY)
    assert "请按以下格式交办" in answer
    assert (await item(db, 1)).state is ItemState.RAISED
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅 截止 2026年10月3日", MONDAY)
    assert "早于今天" in answer
    # A non-working due date is accepted with a warning naming the reason.
    (answer,) = await say(db, roster.office, "交办 #1 省商务厅 截止 2027.1.1", MONDAY)
    assert "已交办" in answer and "不是工作日" in answer and "元旦" in answer
    assert (await item(db, 1)).due == date(2027, 1, 1)
    (answer,) = await say(db, roster.office, "延期 #1 12月5日 周末也要办", MONDAY)
    assert "周末" in answer and "不是工作日" in answer
    (answer,) = await say(db, roster.office, "延期 #1 11月1日 原因", MONDAY)
    assert "早于今天" not in answer  # 11月1日 without a year is next year's, not in the past
    assert (await item(db, 1)).due == date(2027, 11, 1)


async def test_items_listing_and_detail(db: Database) -> None:
    roster = await seed(db)
    await raised_and_assigned(db, roster)
    await say(db, roster.liaison, "问题 园区道路未通：断头路", MONDAY)
    (answer,) = await say(db, roster.reform_liaison, "事项", MONDAY)
    assert "在办督办事项（2项）" in answer and "#1" in answer and "#2" in answer and "【绿灯】" in answer
    (answer,) = await say(db, roster.liaison, "事项 #1", MONDAY)
    assert "牵头单位：省发展改革委" in answer and "办理过程" in answer and "赵敏 交办" in answer
    (answer,) = await say(db, roster.liaison, "事项 省商务厅", MONDAY)
    assert "#1" in answer  # supporting
    (answer,) = await say(db, roster.liaison, "事项 逾期", local(2026, 12, 14, 9))
    assert "逾期事项（1项）" in answer and "【红灯】" in answer and "已逾期4天" in answer
    (answer,) = await say(db, roster.liaison, "/items #9", MONDAY)
    assert "未找到" in answer


async def test_numbers_are_sequential_and_quoted(db: Database) -> None:
    roster = await seed(db)
    for n in range(3):
        await say(db, roster.liaison, f"问题 事项{n}：**加粗**@所有人 https://x.cn", MONDAY)
    async with db.sessions() as session:
        numbers = list(await session.scalars(select(Item.number).order_by(Item.id)))
    assert numbers == [1, 2, 3]
    office_post = [p for p in await group_posts(db) if p.target == OFFICE_GROUP][-1]
    body = office_post.message["body"]
    assert "**加粗**" not in body and "@所有人" not in body and "https:" not in body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12月10日", date(2026, 12, 10)),
        ("12.10", date(2026, 12, 10)),
        ("2026-12-10", date(2026, 12, 10)),
        ("2026年12月10日", date(2026, 12, 10)),
        ("1月5日", date(2027, 1, 5)),
        ("11月23日", date(2026, 11, 23)),
        ("11月22日", date(2027, 11, 22)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, date(2026, 11, 23)) == expected


def test_bad_dates_and_arguments() -> None:
    for text in ("13月1日", "2月30日", "明天", "2026-02-30"):
        with pytest.raises(ValueError, match="未能识别日期"):
            parse_date(text, date(2026, 11, 23))
    assert split_date("12月20日 需会商", date(2026, 11, 23)) == (date(2026, 12, 20), "需会商")
    assert item_reference("#12 内容") == (12, "内容")
    assert item_reference("12") == (12, "")
    assert item_reference("省商务厅") == (None, "省商务厅")
    parts = split_assignment("省商务厅 配合 省财政厅 省发展改革委 截止 12月10日")
    assert parts is not None and parts.lead == "省商务厅" and parts.supporting == ["省财政厅", "省发展改革委"]
    assert split_assignment("省商务厅") is None


async def test_a_report_that_begins_with_an_item_word_is_filed_as_report(db: Database) -> None:
    roster = await seed(db)
    text = "进展：本月我厅完成外贸项目签约12个，新增进出口企业备案35家，重点项目推进顺利。\n二、下月计划。"
    (answer,) = await say(db, roster.liaison, text, MONDAY)
    assert "已按工作进展登记" in answer
    async with db.sessions() as session:
        assert await session.scalar(select(Item.id)) is None
    (answer,) = await say(db, roster.liaison, "进展 一切顺利", MONDAY)
    assert "请写明事项编号" in answer


async def test_assigning_to_a_unit_nobody_can_be_told_of_says_so(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "问题 园区道路未通：断头路", MONDAY)
    (answer,) = await say(db, roster.office, "交办 #1 省财政厅 截止 12月10日", MONDAY)
    assert "已交办" in answer and "未登记在任何群中" in answer and "签收 #1" in answer
    assert [p.target for p in await group_posts(db)] == [OFFICE_GROUP]  # only the raise notice


async def test_items_raised_at_once_get_distinct_numbers(db: Database) -> None:
    roster = await seed(db)

    async def raise_one(title: str) -> None:
        async with db.transaction() as session:
            number = await ledger.next_number(session)
            session.add(Item(number=number, title=title, raised_by_id=roster.liaison.id, state=ItemState.RAISED))
            await asyncio.sleep(0)  # let the other transaction reach its own number

    await asyncio.gather(*(raise_one(f"事项{n}") for n in range(5)))
    async with db.sessions() as session:
        numbers = sorted(await session.scalars(select(Item.number)))
    assert numbers == [1, 2, 3, 4, 5]
