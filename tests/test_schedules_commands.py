"""The office's 周报 / 通报 commands, through the real dispatcher: drafts, preview, send now (taking the claim)."""

import time_machine
from handlers_kit import MEMBER_GROUP, audit_entries, say, seed
from schedules_kit import claims, jobs, policy, posts, when
from sqlalchemy import select

from schedules.jobs import run_job
from storage.db import Database
from storage.models import Draft

POLICY = policy()


async def drafts(db: Database) -> list[Draft]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Draft).order_by(Draft.id)))


async def test_an_item_goes_to_the_next_briefing_still_to_come(db: Database) -> None:
    roster = await seed(db)
    (added,) = await say(
        db,
        roster.office,
        "周报 添加 11月27日召开重点项目调度会。\n请各单位准备材料。",
        when(2026, 11, 20, 15),
        policy=POLICY,
    )
    (draft,) = await drafts(db)
    assert draft.period_key == "2026-W48"  # this week's briefing (Monday the 16th) is past: next week's
    assert draft.text == "11月27日召开重点项目调度会。\n请各单位准备材料。"
    assert draft.author == "赵敏"
    assert added.startswith("已记入11月23日（周一）09:00每周工作通报的“下周安排”")
    assert f"周报 撤回 {draft.id}" in added
    (early,) = await say(db, roster.office, "周报 添加 今晨补充。", when(2026, 11, 23, 8), policy=POLICY)
    assert early.startswith("已记入11月23日（周一）09:00每周工作通报")  # before 09:00: this week's


async def test_items_added_after_this_weeks_briefing_wait_for_the_next(db: Database) -> None:
    roster = await seed(db)
    ctx = jobs(db)
    with time_machine.travel(when(2026, 11, 16), tick=False):
        await run_job(ctx, "weekly-briefing", when(2026, 11, 16), late=False)
    (added,) = await say(
        db, roster.office, "周报 添加 11月27日召开重点项目调度会。", when(2026, 11, 19, 15), policy=POLICY
    )
    assert added.startswith("已记入11月23日（周一）09:00每周工作通报的“下周安排”（编号")
    (preview,) = await say(db, roster.office, "周报 预览", when(2026, 11, 20, 9), policy=POLICY)
    assert preview.startswith(f"【预览】每周工作通报，将于11月23日（周一）09:00发送至{MEMBER_GROUP}（尚未发送）：")
    assert "- 11月27日召开重点项目调度会。" in preview
    assert "补充事项编号（可用“撤回 编号”撤回）：" in preview
    assert len(await posts(db)) == 1  # the preview posted nothing to the group
    with time_machine.travel(when(2026, 11, 23), tick=False):
        await run_job(ctx, "weekly-briefing", when(2026, 11, 23), late=False)
    assert "- 11月27日召开重点项目调度会。" in (await posts(db))[-1].message["body"]


async def test_send_now_takes_this_weeks_occurrence(db: Database) -> None:
    roster = await seed(db)
    (sent,) = await say(db, roster.office, "周报 发送", when(2026, 11, 23, 8, 30), policy=POLICY)
    assert sent == f"已发送本周每周工作通报至{MEMBER_GROUP}（共1个群），11月23日（周一）09:00不再重复发送。"
    (row,) = await posts(db, origin="weekly-briefing")
    assert row.dedupe_key == f"weekly-briefing:2026-11-23T09:00:00+08:00:{MEMBER_GROUP}"
    (claim,) = await claims(db, "weekly-briefing")
    assert (claim.status, claim.note) == ("manual", "赵敏通过“周报 发送”发送")
    with time_machine.travel(when(2026, 11, 23), tick=False):
        scheduled = await run_job(jobs(db), "weekly-briefing", when(2026, 11, 23), late=False)
    assert scheduled.status == "taken"
    (again,) = await say(db, roster.office_deputy, "周报 发送", when(2026, 11, 24, 10), policy=POLICY)
    assert again == "本周每周工作通报已于11月23日（周一）08:30发送，未重复发送。"
    assert len(await posts(db)) == 1
    assert [entry.outcome for entry in await audit_entries(db) if entry.action == "周报"] == ["ok", "already_sent"]


async def test_withdraw_a_draft(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.office, "周报 添加 第一条。", when(2026, 11, 20, 15), policy=POLICY)
    await say(db, roster.office, "/weekly add 第二条。", when(2026, 11, 20, 15, 1), policy=POLICY)
    first, second = await drafts(db)
    assert second.text == "第二条。"
    (withdrawn,) = await say(db, roster.office, f"周报 撤回 {first.id}", when(2026, 11, 20, 16), policy=POLICY)
    assert withdrawn == f"已撤回补充事项（编号{first.id}）：第一条。"
    (unknown,) = await say(db, roster.office, f"周报 撤回 {first.id}", when(2026, 11, 20, 16), policy=POLICY)
    assert unknown.startswith(f"没有可撤回的补充事项（编号{first.id}）")
    (wrong_kind,) = await say(db, roster.office, f"通报 撤回 {second.id}", when(2026, 11, 20, 16), policy=POLICY)
    assert wrong_kind.startswith("没有可撤回的补充事项")
    (no_number,) = await say(db, roster.office, "周报 撤回 第一条", when(2026, 11, 20, 16), policy=POLICY)
    assert no_number.startswith("请写明要撤回的补充事项编号")
    with time_machine.travel(when(2026, 11, 23), tick=False):
        await run_job(jobs(db), "weekly-briefing", when(2026, 11, 23), late=False)
    body = (await posts(db))[-1].message["body"]
    assert "第二条。" in body and "第一条。" not in body


async def test_the_monthly_circular_commands(db: Database) -> None:
    roster = await seed(db)
    (added,) = await say(db, roster.office, "通报 添加 12月中旬开展年度考评。", when(2026, 11, 30, 17), policy=POLICY)
    assert added.startswith("已记入12月1日（周二）09:00月度工作通报的“下月安排”")
    (preview,) = await say(db, roster.office, "通报 预览", when(2026, 11, 30, 17, 5), policy=POLICY)
    assert "2026年10月工作进展" in preview and "- 12月中旬开展年度考评。" in preview
    (sent,) = await say(db, roster.office, "通报：发送", when(2026, 12, 1, 8), policy=POLICY)
    assert sent.startswith("已发送本月月度工作通报至")
    (row,) = await posts(db, origin="monthly-circular")
    assert row.message["title"] == "强省会工作机制办公室2026年11月工作通报"
    assert "- 12月中旬开展年度考评。" in row.message["body"]
    (claim,) = await claims(db, "monthly-circular")
    assert claim.status == "manual"


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(db: Database) -> None:
    roster = await seed(db)
    (usage,) = await say(db, roster.office, "周报", when(2026, 11, 20), policy=POLICY)
    assert usage.startswith("周报命令用法：")
    (empty,) = await say(db, roster.office, "周报 添加", when(2026, 11, 20), policy=POLICY)
    assert empty.startswith("请写明补充事项的内容")
    (long,) = await say(db, roster.office, "通报 添加 " + "很长" * 300, when(2026, 11, 20), policy=POLICY)
    assert long.startswith("补充事项请控制在500字以内（当前600字）")
    assert await drafts(db) == []
    assert await claims(db) == []
    assert [entry.outcome for entry in await audit_entries(db)] == ["usage", "invalid", "invalid"]


async def test_liaisons_may_not_use_the_office_commands(db: Database) -> None:
    roster = await seed(db)
    (refused,) = await say(db, roster.liaison, "周报 发送", when(2026, 11, 23, 8), policy=POLICY)
    assert "周报" in refused
    assert await posts(db) == []
    assert await claims(db) == []
