"""The ledger in the rhythm: the Monday briefing and the monthly circular with items in every state, and the
morning reminders of amber and red items, once a day at most."""

from datetime import date
from pathlib import Path

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, Roster, local, say, seed
from schedules_kit import jobs, posts

from bot.cli import main
from schedules.context import JobContext
from schedules.jobs import JobOutcome, run_job
from schedules.kinds.item_reminder import JOB as ITEM_REMINDER_JOB
from schedules.kinds.item_reminder import ItemReminderSettings
from storage.db import Database

ITEM_REMINDER = ITEM_REMINDER_JOB.name
REMINDER_ON = ItemReminderSettings()


async def run(ctx: JobContext, job: str, at_day: tuple[int, int, int], hour: int = 9, minute: int = 0) -> JobOutcome:
    at = local(*at_day, hour, minute)
    with time_machine.travel(at, tick=False):
        return await run_job(ctx, job, at, late=False)


async def ledger_in_every_state(db: Database, roster: Roster) -> None:
    """#1 待交办, #2 unsigned, #3 red, #4 amber, #5 green, #6 待审核, #7 closed last week, #8 stopped."""
    monday = local(2026, 11, 23, 9)
    for n in range(1, 9):
        await say(db, roster.liaison, f"问题 事项{n}：内容{n}", monday)
    office, lead = roster.office, roster.reform_liaison
    await say(db, office, "交办 #2 省发展改革委 截止 12月31日", monday)
    await say(db, office, "交办 #3 省发展改革委 截止 11月27日", monday)
    await say(db, office, "交办 #4 省商务厅 截止 12月2日", monday)
    await say(db, office, "交办 #5 省发展改革委 配合 省商务厅 截止 12月31日", monday)
    await say(db, office, "交办 #6 省发展改革委 截止 12月31日", monday)
    await say(db, office, "交办 #7 省发展改革委 截止 12月31日", monday)
    await say(db, office, "交办 #8 省发展改革委 截止 12月31日", monday)
    for number in (3, 5, 6, 7):
        await say(db, lead, f"签收 #{number}", monday)
    await say(db, roster.liaison, "签收 #4", monday)
    await say(db, lead, "办结 #6 已办理", local(2026, 11, 24))
    await say(db, lead, "办结 #7 已办理", local(2026, 11, 24))
    await say(db, office, "销号 #7", local(2026, 11, 25))
    await say(db, office, "中止 #8 企业已自行解决", local(2026, 11, 25))


async def test_weekly_briefing_lists_items_by_light(db: Database) -> None:
    roster = await seed(db)
    await ledger_in_every_state(db, roster)
    outcome = await run(jobs(db), "weekly-briefing", (2026, 11, 30))
    assert outcome.status == "posted"
    body = (await posts(db, origin="weekly-briefing"))[0].message["body"]
    section = body[body.index("**三、督办事项办理情况**") :]
    assert "在办事项4项：红灯1项、黄灯2项、绿灯1项" in section
    lines = [line for line in section.splitlines() if line.startswith("- 【")]
    assert [line[:8] for line in lines] == ["- 【红灯】#3", "- 【黄灯】#4", "- 【黄灯】#2", "- 【绿灯】#5"]
    assert "已逾期3天" in lines[0] and "尚未签收" in lines[2]
    assert "待交办问题1项，待审核销号1项" in section
    assert "上周办结销号1项：#7「事项7」" in section
    assert "#8" not in section and "#1「" not in section


async def test_weekly_briefing_without_items_has_no_section(db: Database) -> None:
    await seed(db)
    await run(jobs(db), "weekly-briefing", (2026, 11, 30))
    body = (await posts(db, origin="weekly-briefing"))[0].message["body"]
    assert "督办事项" not in body


async def test_monthly_circular_carries_the_months_figures(db: Database) -> None:
    roster = await seed(db)
    await ledger_in_every_state(db, roster)
    await run(jobs(db), "monthly-circular", (2026, 12, 1))
    body = (await posts(db, origin="monthly-circular"))[0].message["body"]
    section = body[body.index("**三、督办事项情况**") :]
    assert "11月新提出问题8项，交办7项，办结销号1项（平均办结用时2.0天）；月末逾期未办结1项。" in section
    assert "- 省发展改革委：牵头交办6项，办结1项，逾期1项。" in section
    assert "- 省商务厅：牵头交办1项，办结0项。" in section


async def test_item_reminder_reaches_lead_liaisons_once_a_day(db: Database) -> None:
    roster = await seed(db)
    await ledger_in_every_state(db, roster)
    ctx = jobs(db, item_reminder=REMINDER_ON)
    first = await run(ctx, ITEM_REMINDER, (2026, 11, 30), 9, 15)
    again = await run(ctx, ITEM_REMINDER, (2026, 11, 30), 9, 15)
    assert (first.status, again.status) == ("posted", "taken")
    (post,) = await posts(db, origin=ITEM_REMINDER)
    assert post.target == MEMBER_GROUP
    body = post.message["body"]
    assert "【红灯】#3" in body and "【黄灯】#4" in body and "【黄灯】#2" in body and "#5" not in body
    assert "尚未签收" in body and "已逾期3天" in body
    assert {m["name"] for m in post.message["mentions"]} == {"王强", "张伟", "李娜"}
    # The next working day it comes again; on a Saturday there is no occurrence at all.
    assert (await run(ctx, ITEM_REMINDER, (2026, 12, 1), 9, 15)).status == "posted"
    planned = ctx.env.planner.occurrences(date(2026, 12, 5), date(2026, 12, 7), jobs=[ITEM_REMINDER])
    assert [o.at.date() for o in planned] == [date(2026, 12, 7)]


async def test_item_reminder_says_nothing_when_all_is_green(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "问题 事项：内容", local(2026, 11, 23))
    await say(db, roster.office, "交办 #1 省发展改革委 截止 12月31日", local(2026, 11, 23))
    await say(db, roster.reform_liaison, "签收 #1", local(2026, 11, 23))
    outcome = await run(jobs(db, item_reminder=REMINDER_ON), ITEM_REMINDER, (2026, 11, 30), 9, 15)
    assert outcome.status == "nothing"
    assert await posts(db, origin=ITEM_REMINDER) == []


def test_jobs_list_shows_the_item_reminder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/duban.db"\n'
        '[[groups]]\nname = "强省会工作机制群"\nplatform = "sandbox"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "jobs", "list", "--from", "2026-09-28", "--days", "15"]) == 0
    out = capsys.readouterr().out
    assert "督办事项提醒（item-reminder）" in out
    assert "9月30日" in out and "10月8日" in out
    lines = [line for line in out.splitlines() if "item-reminder" in line]
    assert not any("10月1日" in line or "10月5日" in line for line in lines)
    config.write_text(config.read_text(encoding="utf-8") + "[schedules.item-reminder]\nenabled = false\n")
    assert main(["--config", str(config), "jobs", "list", "--from", "2026-09-28", "--days", "15"]) == 0
    out = capsys.readouterr().out
    assert "已停用：督办事项提醒" in out and "（item-reminder）" not in out
