from datetime import UTC, datetime

import time_machine
from handlers_kit import (
    MEMBER_GROUP,
    OFFICE_GROUP,
    POLICY,
    audit_entries,
    group_posts,
    inbox_row,
    local,
    replies_to,
    say,
    seed,
    submissions,
)
from sqlalchemy import func, select, update

from handlers.dispatch import apologize, is_courtesy
from storage.db import Database
from storage.models import InboxMessage, Person, StoredFile, Submission, Unit

UNKNOWN_REPLY = (
    "您好！系统名册中暂未登记您的账号，本条消息已留存，但暂不能作为工作进展登记。"
    "如需报送或查询，请联系强省会工作机制办公室核实名册信息。"
)


async def count_submissions(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Submission)) or 0)


async def test_unknown_sender_is_told_whom_to_ask_and_kept_and_audited(db: Database) -> None:
    await seed(db)
    replies = await say(db, "9999", "我是新来的联络员，报送十月工作。", local(2026, 11, 20))
    assert replies == [UNKNOWN_REPLY]
    assert await count_submissions(db) == 0
    async with db.sessions() as session:
        (row,) = await session.scalars(select(InboxMessage))
        assert row.text == "我是新来的联络员，报送十月工作。"
        assert row.person_id is None
    (entry,) = await audit_entries(db)
    assert (entry.action, entry.outcome, entry.person_id) == ("身份核验", "unknown_sender", None)
    assert "sandbox:9999" in entry.actor
    assert entry.inbox_id == row.id


async def test_identity_by_platform_account(db: Database) -> None:
    roster = await seed(db)
    await say(db, "zhangwei", "企业微信报送", local(2026, 11, 20), platform="wecom")
    await say(db, "lina-staff", "钉钉报送", local(2026, 11, 21), platform="dingtalk")
    # The WeCom account of one person is nobody on DingTalk, and a sandbox id must be a roster id.
    assert await say(db, "zhangwei", "钉钉上的陌生人", local(2026, 11, 22), platform="dingtalk") == [UNKNOWN_REPLY]
    assert await say(db, "zhangwei", "沙箱", local(2026, 11, 22)) == [UNKNOWN_REPLY]
    assert await say(db, "99999999999999999999", "超长编号", local(2026, 11, 22)) == [UNKNOWN_REPLY]
    assert await say(db, "x", "未知平台", local(2026, 11, 22), platform="feishu") == [UNKNOWN_REPLY]
    stored = await submissions(db, roster.commerce)
    assert [(s.text, s.person_id) for s in stored] == [
        ("企业微信报送", roster.liaison.id),
        ("钉钉报送", roster.deputy.id),
    ]


async def test_inactive_person_counts_as_unknown(db: Database) -> None:
    roster = await seed(db)
    async with db.transaction() as session:
        await session.execute(update(Person).where(Person.id == roster.liaison.id).values(active=False))
    assert await say(db, roster.liaison, "已调离仍在报送", local(2026, 11, 20)) == [UNKNOWN_REPLY]
    assert await count_submissions(db) == 0


async def test_liaison_of_an_inactive_unit_is_not_filed(db: Database) -> None:
    roster = await seed(db)
    async with db.transaction() as session:
        await session.execute(update(Unit).where(Unit.id == roster.commerce.id).values(active=False))
    replies = await say(db, roster.liaison, "十月工作", local(2026, 11, 20))
    assert replies == [
        "您好，张伟同志！名册中您尚未关联有效的成员单位，本条消息已留存，但暂不能登记为工作进展。"
        "请联系强省会工作机制办公室核实名册信息。"
    ]
    assert await count_submissions(db) == 0
    assert [(e.action, e.outcome) for e in await audit_entries(db)] == [("报送", "no_unit")]


async def test_office_member_text_gets_help_not_a_report(db: Database) -> None:
    roster = await seed(db)
    (reply,) = await say(db, roster.office, "这个月的情况怎么样", local(2026, 11, 20))
    assert reply.startswith("您好！您是强省会工作机制办公室成员，无需报送工作进展。\n**办公室可用命令**\n- 帮助：")
    assert "- 统计 [期别]：" in reply
    assert "- 通知 [@群名] 内容：" in reply
    assert await count_submissions(db) == 0


async def test_office_member_image_is_not_filed(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.office, "", local(2026, 11, 20), msgtype="image", attachments=[{"kind": "image"}])
    assert replies == []  # answered once the image is fetched: it is kept, though not filed
    async with db.sessions() as session:
        (kept,) = (await session.scalars(select(StoredFile))).all()
    assert kept.reply_lead == "您好！办公室成员发送的图片和文件不作为报送材料登记。发送“帮助”可查看可用命令。"
    assert (kept.unit_id, kept.submission_id, kept.kind) == (None, None, "image")
    assert await count_submissions(db) == 0


async def test_unsupported_message_types_are_kept_with_a_polite_answer(db: Database) -> None:
    roster = await seed(db)
    voice = await say(db, roster.liaison, "语音转写的内容", local(2026, 11, 20), msgtype="voice")
    assert voice == [
        "您好！暂不能处理语音，本条消息已留存。本机器人可接收文字消息；联络员报送工作进展时也可发送图片和文件。"
        "发送“帮助”可查看使用说明。"
    ]
    odd = await say(db, roster.liaison, "", local(2026, 11, 20), msgtype="sticker")
    assert odd[0].startswith("您好！暂不能处理此类消息，本条消息已留存。")
    assert await count_submissions(db) == 0
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxMessage)) == 2


async def test_empty_text(db: Database) -> None:
    roster = await seed(db)
    assert await say(db, roster.liaison, "  @督办助手  ", local(2026, 11, 20)) == [
        "您好！未收到文字内容。报送工作进展请直接发送文字；发送“帮助”可查看使用说明。"
    ]
    (office_reply,) = await say(db, roster.office, "", local(2026, 11, 20))
    assert "**办公室可用命令**" in office_reply
    assert await count_submissions(db) == 0


async def test_acknowledgements_do_not_replace_a_report(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "十月工作进展全文", local(2026, 11, 20))
    for text in ("收到", "好的，谢谢！", "👍", "OK"):
        replies = await say(db, roster.liaison, text, local(2026, 11, 20, 11))
        assert replies == ["好的。本条未作为工作进展登记；如需报送或更正，请直接发送完整内容。"]
    assert await say(db, roster.office, "收到", local(2026, 11, 20)) == ["好的。发送“帮助”可查看可用命令。"]
    assert [s.text for s in await submissions(db, roster.commerce)] == ["十月工作进展全文"]


def test_is_courtesy() -> None:
    assert is_courtesy("收到收到")
    assert is_courtesy("  谢谢～ ")
    assert not is_courtesy("收到文件后即组织学习")
    assert not is_courtesy("10月完成")


async def test_liaison_is_refused_office_commands_and_the_attempt_audited(db: Database) -> None:
    roster = await seed(db)
    for text in ("统计", "/status", "通知：明天开会", "确认 K7Q2", "催办 10月", "查看 省财政厅"):
        (reply,) = await say(db, roster.liaison, text, local(2026, 11, 20))
        word = reply.split("“")[1].split("”")[0]
        assert reply == (
            f"抱歉，“{word}”命令仅限强省会工作机制办公室成员使用，本次操作未执行，已记录在案。"
            f"如需报送工作进展，请直接发送内容（不要以“{word}”开头）；发送“帮助”可查看您可使用的功能。"
        )
    entries = await audit_entries(db)
    assert [(e.action, e.outcome, e.person_id) for e in entries] == [
        ("统计", "refused", roster.liaison.id),
        ("统计", "refused", roster.liaison.id),
        ("通知", "refused", roster.liaison.id),
        ("确认", "refused", roster.liaison.id),
        ("催办", "refused", roster.liaison.id),
        ("查看", "refused", roster.liaison.id),
    ]
    assert entries[2].detail == "明天开会"
    assert await count_submissions(db) == 0
    assert await group_posts(db) == []


async def test_liaison_help(db: Database) -> None:
    roster = await seed(db)
    (reply,) = await say(db, roster.deputy, "帮助", local(2026, 11, 20))
    assert reply.splitlines() == [
        "**使用说明**（省商务厅·B角）",
        "- 报送工作进展：直接发送文字，即登记为2026年10月的工作进展；每次发送登记为新的一版，以最新一版为准。",
        "- 指定期别：在开头注明，如“10月：……”或“2026年10月：……”。",
        "- 补充内容：以“补充”开头发送，将并入最新一版。",
        "- 报送文件（Word、PDF、Excel 等）：请在与本机器人的单聊中直接发送（群聊中平台不投递文件），"
        "登记为新的一版；在发送文字后10分钟内发来的文件并入同一版。单个文件不超过50 MB。",
        "- 图片：直接发送，附于本期最新一版。",
        "- 答复征集、会议回执：回复“#编号 内容”（编号见征集消息，如“征集#7”）；在企业微信、钉钉中也可引用"
        "该征集消息后直接写内容，不必写编号。",
        "- 报送时限：每月25日23:59前报送上月工作进展；2026年10月的截止时间为2026年11月25日23:59。",
        "- 如有疑问，请联系强省会工作机制办公室。",
        "**督办事项**",
        "- 问题 标题：内容：提出需要协调督办的问题",
        "- 签收 #12：牵头单位联络员签收交办事项",
        "- 进展 #12 内容：报告事项办理进展",
        "- 办结 #12 办理结果：牵头单位报告事项已办结",
        "- 事项 [#12|单位|逾期]：查看督办事项",
    ]
    assert [(e.action, e.outcome) for e in await audit_entries(db)] == [("帮助", "ok")]


async def test_apologize_tells_the_sender_and_the_office_once(db: Database) -> None:
    roster = await seed(db)
    with time_machine.travel(local(2026, 11, 20, 10, 32), tick=False):
        async with db.transaction() as session:
            row = inbox_row(str(roster.liaison.id), "某条出错的消息", received_at=datetime.now(UTC))
            row.sender_name = "张伟"
            row.error = "ValueError: 模拟的处理错误"
            session.add(row)
        for _ in range(2):
            async with db.transaction() as session:
                stored = await session.get(InboxMessage, row.id)
                assert stored is not None
                await apologize(session, stored, POLICY)
    assert await replies_to(db, row.id) == [
        "您好！您的消息已收到，但系统暂时未能完成处理，已通知强省会工作机制办公室跟进，请勿重复发送。"
        "如有急事，请直接联系强省会工作机制办公室。"
    ]
    posts = await group_posts(db)
    assert [post.target for post in posts] == [OFFICE_GROUP]
    assert posts[0].message["body"] == (
        "**消息处理失败**\n张伟（sandbox）于2026年11月20日10:32发来的消息（收件编号 "
        f"{row.id}）未能自动处理，已保留并标记为失败，请及时核查。\n原因：ValueError: 模拟的处理错误"
    )
    assert MEMBER_GROUP not in [post.target for post in posts]
