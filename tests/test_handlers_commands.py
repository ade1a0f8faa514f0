import asyncio
import re
from datetime import UTC, timedelta

import pytest
import time_machine
from handlers_kit import (
    MEMBER_GROUP,
    OFFICE_GROUP,
    POLICY,
    Roster,
    audit_entries,
    group_posts,
    inbox_row,
    local,
    replies_to,
    say,
    seed,
)

from handlers.commands.registry import match, normalize, raw_arguments
from handlers.dispatch import handle
from storage.db import Database
from storage.models import Group, OutboxState, PendingAction, Submission
from storage.monthly_round import find_monthly_round
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.periods import Period

AFTER_DEADLINE = local(2026, 11, 28, 9)
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


async def reports_for_october(db: Database, roster: Roster) -> None:
    """省商务厅 on time (two versions), 省发展改革委 late; the other two missing."""
    await say(db, roster.liaison, "一、招商引资：签约12个项目。", local(2026, 11, 10, 9, 15))
    await say(db, roster.deputy, "一、招商引资：签约13个项目。", local(2026, 11, 20, 16, 40))
    await say(db, roster.reform_liaison, "十月重点项目推进情况。", local(2026, 11, 26, 8, 5))


def code_in(reply: str) -> str:
    found = re.search(r"确认 ([A-Z0-9]{4})", reply)
    assert found is not None, reply
    return found[1]


# ---- matching ----


@pytest.mark.parametrize(
    ("text", "word", "args"),
    [
        ("统计", "统计", ""),
        ("统计 10月", "统计", "10月"),
        ("统计：２０２６－１０", "统计", "2026-10"),
        ("统计。", "统计", ""),
        ("／STATUS  2026-10", "统计", "2026-10"),
        ("查看　省商务厅　10月", "查看", "省商务厅 10月"),
        ("/help", "帮助", ""),
    ],
)
def test_commands_are_matched_tolerantly(text: str, word: str, args: str) -> None:
    found = match(text)
    assert found is not None
    assert (found[0].name, found[1]) == (word, args)


@pytest.mark.parametrize("text", ["统计数据显示本月增长", "帮助企业解决融资难题", "/unknown", "status", "通知书已下发"])
def test_ordinary_text_is_not_a_command(text: str) -> None:
    assert match(text) is None


def test_raw_arguments_keep_what_was_written() -> None:
    assert raw_arguments("通知：\n一、请于周五前报送；\n二、注意格式。") == "一、请于周五前报送；\n二、注意格式。"
    assert normalize("统计：  ２０２６－１０ ") == "统计: 2026-10"


# ---- 帮助 ----


async def test_office_help_lists_every_command(db: Database) -> None:
    roster = await seed(db)
    (reply,) = await say(db, roster.office, "/help", local(2026, 11, 20))
    lines = reply.splitlines()
    assert lines[0] == "**办公室可用命令**"
    assert lines[1:6] == [
        "- 帮助：查看可用命令和使用说明（/help）",
        "- 统计 [期别]：查看报送情况：按时、逾期、未报送的单位及按时报送率（/status）",
        "- 查看 单位 [期别]：查看某单位最新报送内容及版本记录（/show）",
        "- 催办 [期别]：立即在群内提醒尚未报送单位的联络员（/remind）",
        "- 通知 [@群名] 内容：向全部成员单位群（或指定群）发送通知，需确认后发出（/announce）",
    ]
    assert lines[-1] == "期别可写作 2026-10、2026年10月 或 10月，不写则为当前报送期。"


# ---- 统计 ----


async def test_status(db: Database) -> None:
    roster = await seed(db)
    await reports_for_october(db, roster)
    (reply,) = await say(db, roster.office, "统计", AFTER_DEADLINE)
    async with db.sessions() as session:
        october = await find_monthly_round(session, Period(2026, 10))
    assert october is not None  # made by the first report of the period
    assert reply == (
        f"**2026年10月工作进展报送情况**（月报#{october.id}）\n"
        "截止时间：2026年11月25日23:59（已截止）\n"
        "应报4个单位：按时报送1个，逾期报送1个，未报送2个；按时报送率25.0%。\n"
        "- 按时报送（1）：省商务厅\n"
        "- 逾期报送（1）：省发展改革委\n"
        "- 未报送（2）：省工业和信息化厅、省财政厅"
    )
    assert await say(db, roster.office, "/status 2026-10", AFTER_DEADLINE) == [reply]
    assert await say(db, roster.office, "统计：１０月份", AFTER_DEADLINE) == [reply]
    (before,) = await say(db, roster.office, "统计", local(2026, 11, 20, 17))
    assert "截止时间：2026年11月25日23:59（尚未截止）" in before
    entries = [e for e in await audit_entries(db) if e.action == "统计"]
    assert entries[0].outcome == "ok"
    assert entries[0].detail == "2026-10：按时1，逾期1，未报2"


async def test_status_of_another_period_and_a_bad_period(db: Database) -> None:
    roster = await seed(db)
    (september,) = await say(db, roster.office, "统计 9月", AFTER_DEADLINE)
    assert september.startswith("**2026年9月工作进展报送情况**（月报#1）\n截止时间：2026年10月25日23:59（已截止）")
    assert "未报送4个；按时报送率0.0%" in september
    assert await say(db, roster.office, "统计 上个月", AFTER_DEADLINE) == [
        "未能识别期别“上个月”，请写作 2026-10、2026年10月 或 10月。"
    ]
    assert [(e.action, e.outcome) for e in await audit_entries(db)][-1] == ("统计", "invalid")


# ---- 查看 ----


async def test_show_a_unit(db: Database) -> None:
    roster = await seed(db)
    await reports_for_october(db, roster)
    await say(db, roster.liaison, "补充：二、外贸：进出口增长8%。", local(2026, 11, 21, 8))
    (reply,) = await say(db, roster.office, "查看 商务", AFTER_DEADLINE)
    assert reply.splitlines() == [
        "**【省商务厅】2026年10月工作进展**（第3版，11月21日08:00，按时报送，报送人：张伟）",
        "一、招商引资：签约13个项目。",
        "",
        "——11月21日08:00补充——",
        "二、外贸：进出口增长8%。",
        "**版本记录**（共3版）",
        "- 第1版：11月10日09:15，张伟，按时报送",
        "- 第2版：11月20日16:40，李娜，按时报送",
        "- 第3版：11月21日08:00，张伟，按时报送，补充",
    ]
    assert (await say(db, roster.office, "/show 省商务厅 2026-10", AFTER_DEADLINE)) == [reply]
    assert await say(db, roster.office, "查看 省商务厅 9月", AFTER_DEADLINE) == [
        "【省商务厅】尚未报送2026年9月工作进展。"
    ]


async def test_show_quotes_and_truncates_the_report(db: Database) -> None:
    roster = await seed(db)
    text = "一、@所有人 **紧急** [链接](https://example.com)\n" + "长" * 2000
    await say(db, roster.liaison, text, local(2026, 11, 20))
    (reply,) = await say(db, roster.office, "查看 省商务厅", AFTER_DEADLINE)
    assert "一、＠所有人 ＊＊紧急＊＊ ［链接］（https：//example.com）" in reply
    assert "@" not in reply and "**紧急**" not in reply
    assert f"…\n（全文共{len(text)}字，此处仅显示开头部分；完整内容请导出台账查看。）" in reply
    assert len(reply) < 1200


async def test_show_unit_not_found_ambiguous_or_missing(db: Database) -> None:
    roster = await seed(db)
    assert await say(db, roster.office, "查看 省教育厅", AFTER_DEADLINE) == [
        "未找到名称含“省教育厅”的在册成员单位，请核对单位名称。"
    ]
    assert await say(db, roster.office, "查看 厅", AFTER_DEADLINE) == [
        "名称含“厅”的单位有3个：省商务厅、省工业和信息化厅、省财政厅。请写出更完整的单位名称。"
    ]
    assert await say(db, roster.office, "查看", AFTER_DEADLINE) == ["请写明要查看的单位，例如：查看 省商务厅 10月"]
    assert [e.outcome for e in await audit_entries(db)] == ["not_found", "ambiguous", "invalid"]


# ---- 催办 ----


async def test_remind_chases_missing_units_in_their_groups(db: Database) -> None:
    roster = await seed(db)
    await reports_for_october(db, roster)
    (reply,) = await say(db, roster.office, "催办", AFTER_DEADLINE)
    assert reply == "已向1个单位的联络员发出2026年10月工作进展催办：省工业和信息化厅。"
    (post,) = await group_posts(db)
    assert post.target == MEMBER_GROUP
    assert [mention["name"] for mention in post.message["mentions"]] == ["周杰"]
    (entry,) = [e for e in await audit_entries(db) if e.action == "催办"]
    assert (entry.outcome, entry.detail) == ("ok", "2026-10：省工业和信息化厅")


async def test_remind_when_everyone_reported_or_nobody_can_be_reached(db: Database) -> None:
    roster = await seed(db)
    await reports_for_october(db, roster)
    async with db.transaction() as session:
        # 省工业和信息化厅 reports; 省财政厅 has no liaison in any group.
        session.add(Submission(unit_id=roster.industry.id, period="2026-10", version=1, text="纸质报送", on_time=False))
    (reply,) = await say(db, roster.office, "催办 10月", AFTER_DEADLINE)
    assert reply == (
        "2026年10月尚有1个单位未报送（省财政厅），但其联络员均不在已登记的群中，未能发出催办。请核对名册中的所在群。"
    )
    async with db.transaction() as session:
        session.add(Submission(unit_id=roster.finance.id, period="2026-10", version=1, text="纸质报送", on_time=False))
    assert await say(db, roster.office, "/remind", AFTER_DEADLINE) == [
        "2026年10月工作进展各成员单位均已报送，无需催办。"
    ]
    assert await group_posts(db) == []


# ---- 通知 / 确认 ----


async def test_announcement_needs_confirmation_and_is_posted_once(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 11, 20, 10)
    (preview,) = await say(db, roster.office, "通知：\n一、请于周五前报送**年度总结**；\n二、注意格式。", at)
    code = code_in(preview)
    assert preview == (
        f"**通知预览**（发送至群“{MEMBER_GROUP}”）\n一、请于周五前报送**年度总结**；\n二、注意格式。\n"
        f"请在30分钟内回复“确认 {code}”发送；未确认则不发送。"
    )
    assert await group_posts(db) == []
    async with db.sessions() as session:
        pending = await session.get(PendingAction, code)
        assert pending is not None
        assert pending.expires_at == (at + timedelta(minutes=30)).astimezone(UTC)
        assert pending.payload["text"] == "一、请于周五前报送**年度总结**；\n二、注意格式。"

    confirmed = await say(db, roster.office_deputy, f"确认 {code.lower()}", at + timedelta(minutes=5))
    assert confirmed == [f"已确认，通知已排队发送至1个群：{MEMBER_GROUP}。"]
    (post,) = await group_posts(db)
    assert post.target == MEMBER_GROUP
    assert post.dedupe_key == f"announce:{code}:{MEMBER_GROUP}"
    assert post.message["title"] == "强省会工作机制办公室通知"
    assert post.message["body"] == "一、请于周五前报送**年度总结**；\n二、注意格式。"
    assert post.message["at_all"] is False

    again = await say(db, roster.office, f"/confirm {code}", at + timedelta(minutes=6))
    assert again == [f"确认码“{code}”的通知已于11月20日10:05由孙丽确认发送，本次未重复发送。"]
    assert len(await group_posts(db)) == 1
    outcomes = [(e.action, e.outcome) for e in await audit_entries(db)]
    assert outcomes == [("通知", "pending"), ("确认", "ok"), ("确认", "already_confirmed")]


async def test_announcement_to_a_named_group_with_at_all(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 11, 20, 10)
    (preview,) = await say(db, roster.office, f"通知 @{OFFICE_GROUP} @所有人 下午三点开会", at)
    assert preview.startswith(f"**通知预览**（发送至群“{OFFICE_GROUP}”，并提醒所有人）\n下午三点开会\n")
    await say(db, roster.office, f"确认 {code_in(preview)}", at)
    (post,) = await group_posts(db)
    assert post.target == OFFICE_GROUP
    assert post.message["at_all"] is True
    assert post.message["body"] == "下午三点开会"


async def test_announcement_refusals(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 11, 20, 10)
    assert await say(db, roster.office, "通知 @不存在的群 内容", at) == [
        f"未找到名为“不存在的群”的群。可发送的群：{MEMBER_GROUP}。"
    ]
    assert await say(db, roster.office, "通知", at) == [
        "请写明通知内容，例如：通知 请各成员单位于本周五前报送材料。指定群时写作：通知 @群名 内容"
    ]
    assert await say(db, roster.office, "确认", at) == ["请写明确认码，例如：确认 K7Q2"]
    assert await say(db, roster.office, "确认 ZZZZ", at) == ["未找到确认码“ZZZZ”，请核对后重试。"]
    (preview,) = await say(db, roster.office, "通知 周五放假", at)
    code = code_in(preview)
    expired = await say(db, roster.office, f"确认 {code}", at + timedelta(minutes=30, seconds=1))
    assert expired == [f"确认码“{code}”已过期（有效期30分钟），通知未发送。如仍需发送，请重新发送“通知”。"]
    assert await group_posts(db) == []


async def test_two_confirmations_at_once_post_once(db: Database) -> None:
    roster = await seed(db)
    at = local(2026, 11, 20, 10)
    (preview,) = await say(db, roster.office, "通知 请按时报送", at)
    code = code_in(preview)
    inbox_ids: list[int] = []

    async def confirm(sender: str) -> None:
        async with db.transaction() as session:
            row = inbox_row(sender, f"确认 {code}")
            session.add(row)
            await session.flush()
            inbox_ids.append(row.id)
            await handle(session, row, POLICY, at.astimezone(UTC))

    with time_machine.travel(at, tick=False):
        await asyncio.gather(confirm(str(roster.office.id)), confirm(str(roster.office_deputy.id)))
    assert len(await group_posts(db)) == 1
    replies = [(await replies_to(db, inbox_id))[0] for inbox_id in inbox_ids]
    assert sorted(reply.startswith("已确认") for reply in replies) == [False, True]


# ---- 重发 ----


async def queued_post(db: Database, roster: Roster, state: OutboxState) -> int:
    async with db.transaction() as session:
        group = await session.get(Group, roster.members.id)
        assert group is not None
        row = enqueue_to_group(session, group, OutboundMessage(body="本周工作通报"), origin="briefing")
        row.state = state
        await session.flush()
        return row.id


async def test_resend(db: Database) -> None:
    roster = await seed(db)
    failed = await queued_post(db, roster, OutboxState.FAILED)
    pending = await queued_post(db, roster, OutboxState.PENDING)
    at = local(2026, 11, 20, 10)
    (reply,) = await say(db, roster.office, f"重发 ＃{str(failed).translate(FULL_WIDTH_DIGITS)}", at)
    posts = await group_posts(db)
    copy = posts[-1]
    assert copy.resent_from == failed
    assert reply == f"已将发送记录 {failed}（发往“{MEMBER_GROUP}”）重新排队发送，新记录编号 {copy.id}。"
    assert await say(db, roster.office, f"/resend {pending}", at) == [
        f"消息 #{pending} 仍在发送队列中（待发送），无需重发。"
    ]
    assert await say(db, roster.office, "重发 987654", at) == ["未找到编号为 987654 的发送记录。"]
    assert await say(db, roster.office, "重发 上一条", at) == ["请写明要重发的发送记录编号，例如：重发 128"]
    assert len(await group_posts(db)) == 3
    outcomes = [(e.action, e.outcome) for e in await audit_entries(db)]
    assert outcomes == [("重发", "ok"), ("重发", "refused"), ("重发", "not_found"), ("重发", "invalid")]
