import asyncio
from datetime import UTC, datetime

import pytest
import time_machine
from handlers_kit import POLICY, inbox_row, local, say, seed, submissions
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import handlers.reports
from handlers.dispatch import handle
from storage.db import Database
from storage.models import FileState, InboxMessage, OutboxMessage, StoredFile, Submission
from storage.submissions import lock_unit

CONFIRM_TAIL = '如需更正请直接重新发送，补充内容请以"补充"开头。'


async def test_report_is_stored_and_confirmed(db: Database) -> None:
    roster = await seed(db)
    replies = await say(
        db, roster.liaison, "我厅10月组织外贸企业参加广交会，签约金额12亿元。", local(2026, 11, 20, 10, 32)
    )
    assert replies == [f"已收到【省商务厅】2026年10月工作进展（第1版，11月20日10:32，按时报送）。{CONFIRM_TAIL}"]
    (stored,) = await submissions(db, roster.commerce)
    assert stored.version == 1
    assert stored.text == "我厅10月组织外贸企业参加广交会，签约金额12亿元。"
    assert stored.person_id == roster.liaison.id
    assert stored.on_time is True
    assert stored.is_supplement is False
    assert stored.received_at == local(2026, 11, 20, 10, 32).astimezone(UTC)
    async with db.sessions() as session:
        row = await session.get(InboxMessage, stored.inbox_id)
        assert row is not None and row.person_id == roster.liaison.id


async def test_each_message_is_a_new_version_and_the_deputy_reports_for_the_same_unit(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "第一稿", local(2026, 11, 18, 9))
    replies = await say(db, roster.deputy, "更正稿", local(2026, 11, 20, 10, 32))
    assert replies[0].startswith("已收到【省商务厅】2026年10月工作进展（第2版，11月20日10:32，按时报送）")
    stored = await submissions(db, roster.commerce)
    assert [(s.version, s.text, s.person_id) for s in stored] == [
        (1, "第一稿", roster.liaison.id),
        (2, "更正稿", roster.deputy.id),
    ]


async def test_deadline_boundary_in_shanghai(db: Database) -> None:
    roster = await seed(db)
    on_time = await say(db, roster.liaison, "截止前最后一秒", local(2026, 11, 25, 23, 59, 59))
    late = await say(db, roster.reform_liaison, "截止后第一秒", local(2026, 11, 26, 0, 0, 0))
    assert "（第1版，11月25日23:59，按时报送）" in on_time[0]
    assert late[0].startswith("已收到【省发展改革委】2026年10月工作进展（第1版，11月26日00:00，逾期报送）")
    assert (await submissions(db, roster.commerce))[0].on_time is True
    assert (await submissions(db, roster.reform))[0].on_time is False


async def test_open_period_is_the_previous_month_in_shanghai_time(db: Database) -> None:
    roster = await seed(db)
    # 1 December 00:30 in Shanghai is still 30 November in UTC: the report is November's.
    replies = await say(db, roster.liaison, "十一月工作", local(2026, 12, 1, 0, 30))
    assert "2026年11月工作进展（第1版" in replies[0]
    assert len(await submissions(db, roster.commerce, "2026-11")) == 1


async def test_january_report_is_for_last_december(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "十二月工作", local(2027, 1, 5))
    await say(db, roster.reform_liaison, "12月：补报", local(2027, 1, 6))
    assert len(await submissions(db, roster.commerce, "2026-12")) == 1
    assert len(await submissions(db, roster.reform, "2026-12")) == 1


async def test_period_marker_overrides_the_open_period(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.liaison, "9月：补报九月份工作进展", local(2026, 11, 20, 10, 32))
    assert replies[0].startswith("已收到【省商务厅】2026年9月工作进展（第1版，11月20日10:32，逾期报送）")
    (stored,) = await submissions(db, roster.commerce, "2026-09")
    assert stored.text == "9月：补报九月份工作进展"
    assert stored.on_time is False
    for text in ("２０２６年９月：又一版", "【2026-09】再一版", "2026/9 第四版"):
        await say(db, roster.liaison, text, local(2026, 11, 20, 11))
    assert [s.version for s in await submissions(db, roster.commerce, "2026-09")] == [1, 2, 3, 4]
    assert await submissions(db, roster.commerce, "2026-10") == []


async def test_a_date_at_the_start_is_not_a_period(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "10月15日召开专题会议，部署四季度工作。", local(2026, 11, 20))
    (stored,) = await submissions(db, roster.commerce, "2026-10")
    assert stored.text == "10月15日召开专题会议，部署四季度工作。"


async def test_future_and_stale_periods_are_refused_and_nothing_stored(db: Database) -> None:
    roster = await seed(db)
    future = await say(db, roster.liaison, "11月：提前报送", local(2026, 11, 20))
    assert future == [
        "本条消息未登记：所注期别为2026年11月，该月工作进展应于2026年12月报送（截止2026年12月25日23:59），"
        "现在尚不能登记。当前报送的是2026年10月的工作进展；如系笔误，请修改期别后重新发送。"
    ]
    next_year = await say(db, roster.liaison, "2027年1月：提前报送", local(2026, 11, 20))
    assert next_year[0].startswith("本条消息未登记：所注期别为2027年1月")
    stale = await say(db, roster.liaison, "2025-09 补报", local(2026, 11, 20))
    assert stale == [
        "本条消息未登记：所注期别为2025年9月，已超过12个月，系统不再接收该期报送。如确需补报，请联系强省会工作机制办公室。"
    ]
    twelve_months = await say(db, roster.liaison, "2025年10月 补报", local(2026, 11, 20))
    assert twelve_months[0].startswith("已收到【省商务厅】2025年10月工作进展（第1版")
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 1


async def test_marker_without_content(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.liaison, "10月：", local(2026, 11, 20))
    assert replies == ["已识别期别为2026年10月，但未收到正文。请在期别后写明工作进展内容，重新发送。"]
    assert await submissions(db, roster.commerce) == []


async def test_supplement_appends_to_the_latest_version(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "一、招商引资：签约12个项目。", local(2026, 11, 20, 9))
    replies = await say(db, roster.deputy, "补充：二、外贸：进出口增长8%。", local(2026, 11, 21, 15, 5))
    assert replies == [
        f"已收到【省商务厅】2026年10月工作进展补充内容，已并入第2版（11月21日15:05，按时报送）。{CONFIRM_TAIL}"
    ]
    first, second = await submissions(db, roster.commerce)
    assert first.text == "一、招商引资：签约12个项目。"
    assert second.text == "一、招商引资：签约12个项目。\n\n——11月21日15:05补充——\n二、外贸：进出口增长8%。"
    assert second.is_supplement is True
    assert second.person_id == roster.deputy.id
    await say(db, roster.liaison, "补充 三、消费：举办促消费活动。", local(2026, 11, 22, 8))
    third = (await submissions(db, roster.commerce))[-1]
    assert third.version == 3
    assert third.text.startswith(second.text)
    assert third.text.endswith("——11月22日08:00补充——\n三、消费：举办促消费活动。")


async def test_supplement_with_a_period_marker(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "9月：九月工作", local(2026, 11, 2))
    await say(db, roster.liaison, "十月工作", local(2026, 11, 3))
    await say(db, roster.liaison, "9月补充：九月补充", local(2026, 11, 4))
    await say(db, roster.liaison, "补充：2026年9月 再补充", local(2026, 11, 5))
    september = await submissions(db, roster.commerce, "2026-09")
    assert [s.version for s in september] == [1, 2, 3]
    assert september[-1].text.endswith("九月补充\n\n——11月5日10:00补充——\n再补充")
    assert [s.text for s in await submissions(db, roster.commerce, "2026-10")] == ["十月工作"]


async def test_supplement_without_an_earlier_version_becomes_version_one(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.liaison, "补充：本月另有一项工作。", local(2026, 11, 20, 10, 32))
    assert replies == [
        "已收到【省商务厅】2026年10月工作进展（第1版，11月20日10:32，按时报送）。"
        f"本期此前尚未收到报告，本条补充内容已登记为第1版。{CONFIRM_TAIL}"
    ]
    (stored,) = await submissions(db, roster.commerce)
    assert stored.text == "本月另有一项工作。"
    assert stored.is_supplement is False


async def test_empty_supplement_is_refused(db: Database) -> None:
    roster = await seed(db)
    assert await say(db, roster.liaison, "补充：", local(2026, 11, 20)) == [
        "请在“补充”后写明需要补充的内容，重新发送。"
    ]
    assert await submissions(db, roster.commerce) == []


async def test_a_report_that_begins_with_words_like_supplement_is_a_new_version(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "第一版", local(2026, 11, 20))
    await say(db, roster.liaison, "补充协议已于10月签署。", local(2026, 11, 21))
    latest = (await submissions(db, roster.commerce))[-1]
    assert latest.text == "补充协议已于10月签署。"
    assert latest.is_supplement is False


async def test_text_is_stored_verbatim(db: Database) -> None:
    roster = await seed(db)
    long_report = "一、重點工作推進情況：🚀 招商引資簽約（繁體）\n" + "进展顺利，" * 4000
    assert len(long_report) > 20_000
    replies = await say(db, roster.liaison, long_report, local(2026, 11, 20))
    assert "第1版" in replies[0]
    quoting = "按照“统计 10月”的要求，我厅已报送数据；通知：后续按月报送。"
    await say(db, roster.liaison, quoting, local(2026, 11, 21))
    first, second = await submissions(db, roster.commerce)
    assert first.text == long_report
    assert second.text == quoting


async def test_bot_mention_is_stripped(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "@督办助手\u2005本月完成三项工作。", local(2026, 11, 20))
    (stored,) = await submissions(db, roster.commerce)
    assert stored.text == "本月完成三项工作。"


async def test_a_long_report_that_begins_with_an_office_command_word_is_filed(db: Database) -> None:
    roster = await seed(db)
    text = "通知：我厅已于11月5日召开全省外贸工作会议，部署四季度稳外贸十项举措，\n各市州商务部门参加。"
    replies = await say(db, roster.liaison, text, local(2026, 11, 20, 10, 32))
    assert replies == [
        "已收到【省商务厅】2026年10月工作进展（第1版，11月20日10:32，按时报送）。"
        f"本条以“通知”开头，已按工作进展登记。{CONFIRM_TAIL}"
    ]
    (stored,) = await submissions(db, roster.commerce)
    assert stored.text == text


async def held_confirmations(db: Database) -> list[tuple[str, str]]:
    """The files waiting for the fetch queue: (kind, the confirmation sent once they are fetched)."""
    async with db.sessions() as session:
        rows = await session.scalars(select(StoredFile).order_by(StoredFile.id))
        return [(row.kind, row.reply_lead) for row in rows if row.state is FileState.PENDING]


async def test_images_attach_to_the_latest_version_and_are_confirmed_once_fetched(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "十月工作进展", local(2026, 11, 20, 9))
    image = {"kind": "image", "media_id": "MEDIA-1", "url": "https://example.invalid/1.jpg"}
    replies = await say(db, roster.liaison, "", local(2026, 11, 20, 9, 5), msgtype="image", attachments=[image])
    assert replies == []  # the confirmation names the fetched file and its size: it waits for the fetch queue
    assert await held_confirmations(db) == [
        ("image", "已收到【省商务厅】2026年10月工作进展的图片，已附于第1版（11月20日09:00报送）。")
    ]
    (stored,) = await submissions(db, roster.commerce)
    assert stored.attachments[0]["media_id"] == "MEDIA-1"
    assert stored.attachments[0]["platform"] == "sandbox"
    assert all(item["inbox_id"] for item in stored.attachments)
    # A corrected text keeps the files already sent.
    await say(db, roster.liaison, "十月工作进展（更正）", local(2026, 11, 21))
    latest = (await submissions(db, roster.commerce))[-1]
    assert latest.version == 2
    assert [item["kind"] for item in latest.attachments] == ["image"]


async def test_a_file_before_any_text_becomes_version_one(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.liaison, "", local(2026, 11, 26, 8), msgtype="file")
    assert replies == []
    assert await held_confirmations(db) == [
        (
            "file",
            "已收到【省商务厅】2026年10月工作进展的文件，已登记为第1版（11月26日08:00，逾期报送）。"
            "如需文字说明，请直接发送。",
        )
    ]
    (stored,) = await submissions(db, roster.commerce)
    assert stored.text == ""
    assert stored.on_time is False
    assert stored.attachments[0]["kind"] == "file"


async def test_two_liaisons_reporting_at_the_same_moment_get_distinct_versions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "第一版", local(2026, 11, 20, 9))
    moment = local(2026, 11, 20, 10, 32)
    if db.dialect == "postgresql":
        # Both transactions reach the version numbering together; without the unit lock both would take 2.
        both_there = asyncio.Barrier(2)

        async def lock_together(session: AsyncSession, unit_id: int) -> None:
            await both_there.wait()
            await lock_unit(session, unit_id)

        monkeypatch.setattr(handlers.reports, "lock_unit", lock_together)
    # (SQLite transactions begin IMMEDIATE, so the second simply waits for the first.)

    async def report(sender: str, text: str) -> None:
        async with db.transaction() as session:
            row = inbox_row(sender, text, received_at=moment.astimezone(UTC))
            session.add(row)
            await session.flush()
            await handle(session, row, POLICY, moment.astimezone(UTC))

    with time_machine.travel(moment, tick=False):
        await asyncio.gather(
            report(str(roster.liaison.id), "A角的版本"),
            report(str(roster.deputy.id), "B角的版本"),
        )
    stored = await submissions(db, roster.commerce)
    assert [s.version for s in stored] == [1, 2, 3]
    assert {s.text for s in stored[1:]} == {"A角的版本", "B角的版本"}
    async with db.sessions() as session:
        bodies = [row.message["body"] for row in await session.scalars(select(OutboxMessage))]
    assert sum("（第2版" in body for body in bodies) == 1
    assert sum("（第3版" in body for body in bodies) == 1


async def test_received_time_decides_not_handling_time(db: Database) -> None:
    roster = await seed(db)
    received = local(2026, 11, 25, 23, 59, 50)
    with time_machine.travel(local(2026, 11, 26, 0, 5), tick=False):
        async with db.transaction() as session:
            row = inbox_row(str(roster.liaison.id), "赶在截止前发出", received_at=received.astimezone(UTC))
            session.add(row)
            await session.flush()
            await handle(session, row, POLICY, datetime.now(UTC))
    (stored,) = await submissions(db, roster.commerce)
    assert stored.on_time is True
