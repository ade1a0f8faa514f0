"""The monthly report as the built-in monthly round: numbered, checked, extended, closed and exported like any
round (``统计 #N``, ``截止 #N``, ``结束 #N``, ``duban export --round N``); ``统计`` alone stays the monthly one."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from conftest import truncate_all
from handlers_kit import OFFICE_GROUP, Roster, audit_entries, local, say, seed, submissions
from openpyxl import load_workbook
from schedules_kit import jobs, posts
from sqlalchemy import func, select
from test_cli_reports import CONFIG

from bot.cli import main
from schedules.jobs import run_job
from schedules.kinds.round_reminder import RoundReminderSettings
from storage.db import Database
from storage.models import OutboxMessage, Round
from storage.monthly_round import find_monthly_round
from storage.periods import Period

OCTOBER = Period(2026, 10)


async def october_round(db: Database) -> Round:
    async with db.sessions() as session:
        found = await find_monthly_round(session, OCTOBER)
    assert found is not None
    return found


async def reported(db: Database) -> Roster:
    """省商务厅 on time, 省发展改革委 after the deadline; the other two units have not reported."""
    roster = await seed(db)
    await say(db, roster.liaison, "十月工作进展：签约13个项目。", local(2026, 11, 20))
    await say(db, roster.reform_liaison, "十月工作进展：项目开工。", local(2026, 11, 26, 9))
    return roster


async def test_the_first_report_makes_the_periods_round_once(db: Database) -> None:
    roster = await reported(db)
    await say(db, roster.deputy, "补充：外贸增长8%。", local(2026, 11, 21))
    async with db.sessions() as session:
        rounds = list(await session.scalars(select(Round)))
    (october,) = rounds  # one round for the period, however many reports
    assert (october.kind, october.code, october.title, october.state) == (
        "monthly",
        "M2026-10",
        "2026年10月工作进展",
        "open",
    )
    assert october.deadline == local(2026, 11, 25, 23, 59, 59)
    versions = await submissions(db, roster.commerce) + await submissions(db, roster.reform)
    assert [version.round_id for version in versions] == [october.id] * 3


async def test_status_by_number_is_the_monthly_status(db: Database) -> None:
    roster = await reported(db)
    october = await october_round(db)
    (plain,) = await say(db, roster.office, "统计", local(2026, 11, 28))
    assert plain.startswith(f"**2026年10月工作进展报送情况**（月报#{october.id}）\n")
    assert await say(db, roster.office, f"统计 #{october.id}", local(2026, 11, 28)) == [plain]
    assert "按时报送1个，逾期报送1个，未报送2个" in plain


async def test_extending_moves_the_deadline_for_late_marks_reminders_and_the_overdue_notice(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "十月工作进展。", local(2026, 11, 20))
    october = await october_round(db)
    (extended,) = await say(db, roster.office, f"截止 #{october.id} 11月30日", local(2026, 11, 24))
    assert extended == f"月报#{october.id}的截止时间已调整为11月30日（周一）23:59。"
    assert (await october_round(db)).deadline == local(2026, 11, 30, 23, 59, 59)

    (reminder,) = [
        row.message["body"]
        for row in await _run(db, "deadline-reminder", local(2026, 11, 25, 15))
        if row.origin == "deadline-reminder"
    ]
    assert "2026年10月工作进展报送截止日为11月30日（周一）" in reminder
    assert "11月30日（周一）24时前" in reminder

    overdue = await _run(db, "overdue-notice", local(2026, 11, 26, 9))
    assert [row for row in overdue if row.origin == "overdue-notice"] == []  # not overdue yet

    chased = await _run(db, "round-reminder", local(2026, 11, 27, 10), round_reminder=RoundReminderSettings())
    (chase,) = [row.message["body"] for row in chased if row.origin == "round-reminder"]
    assert chase.startswith(f"月报#{october.id}“2026年10月工作进展”截止时间已延至11月30日（周一）23:59，")
    assert "以下单位尚未报送：省发展改革委、省工业和信息化厅。" in chase

    (late_before,) = await say(db, roster.reform_liaison, "十月工作进展：项目开工。", local(2026, 11, 27))
    assert "按时报送" in late_before  # within the extended deadline
    assert (await submissions(db, roster.reform))[0].on_time
    (plain,) = await say(db, roster.office, "统计", local(2026, 11, 27, 12))
    assert "截止时间：2026年11月30日23:59（尚未截止）" in plain

    # The first working morning after the extended deadline: the overdue notice the fixed plan deferred, once.
    done = await _run(db, "round-reminder", local(2026, 12, 1, 10), round_reminder=RoundReminderSettings())
    (notice,) = [row for row in done if row.origin == "round-reminder" and row.target == OFFICE_GROUP]
    assert notice.message["body"].startswith("2026年10月工作进展报送已于11月30日（周一）24时截止。")
    assert "- 省工业和信息化厅（规划处）" in notice.message["body"]
    assert "- 省发展改革委" not in notice.message["body"]  # reported within the extension
    again = await _run(db, "round-reminder", local(2026, 12, 2, 10), round_reminder=RoundReminderSettings())
    assert [row.id for row in again if row.target == OFFICE_GROUP] == [notice.id]  # once


async def test_extending_marks_reports_by_the_new_deadline(db: Database) -> None:
    """A report that came after the old deadline but by the new one counts as on time everywhere once the office
    extends; the office is told how many marks changed, and the audit log says so."""
    roster = await reported(db)  # 省发展改革委 reported on 26 November, after the 25th
    october = await october_round(db)
    assert [v.on_time for v in await submissions(db, roster.reform)] == [False]
    (extended,) = await say(db, roster.office, f"截止 #{october.id} 11月30日", local(2026, 11, 27))
    assert extended == (
        f"月报#{october.id}的截止时间已调整为11月30日（周一）23:59。按新的截止时间，此前收到的报送中1份改记为按时。"
    )
    assert [v.on_time for v in await submissions(db, roster.reform)] == [True]
    assert [v.on_time for v in await submissions(db, roster.commerce)] == [True]  # unchanged
    (plain,) = await say(db, roster.office, "统计", local(2026, 11, 27, 12))
    assert "按时报送2个，逾期报送0个，未报送2个" in plain
    assert (await audit_entries(db))[-2].detail == f"#{october.id}：2026-11-30，1份改记为按时"


async def test_closing_keeps_later_reports_and_marks_them_late(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "十月工作进展：签约13个项目。", local(2026, 11, 20))
    october = await october_round(db)
    (closed,) = await say(db, roster.office, f"结束 #{october.id}", local(2026, 11, 22))
    assert closed == (
        f"月报#{october.id}“2026年10月工作进展”已结束：已报送1家，未报送3家。此后收到的报送仍会保存并标注为逾期。"
    )
    assert await say(db, roster.office, f"结束 #{october.id}", local(2026, 11, 22)) == [
        f"月报#{october.id}此前已结束。"
    ]
    (confirmation,) = await say(db, roster.reform_liaison, "十月工作进展：补报。", local(2026, 11, 23))
    assert "逾期" in confirmation
    (version,) = await submissions(db, roster.reform)
    assert version.text == "十月工作进展：补报。" and not version.on_time and version.round_id == october.id
    (plain,) = await say(db, roster.office, f"统计 #{october.id}", local(2026, 11, 23, 12))
    assert "（已结束，此后的报送标注为逾期）" in plain
    assert "按时报送1个，逾期报送1个，未报送2个" in plain
    assert "- 逾期报送（1）：省发展改革委" in plain  # before the deadline, but after the close


async def test_a_liaison_may_name_the_monthly_round(db: Database) -> None:
    roster = await reported(db)
    october = await october_round(db)
    (confirmation,) = await say(db, roster.liaison, f"#{october.id} 十月工作进展（更正）。", local(2026, 12, 3))
    assert "2026年10月" in confirmation
    versions = await submissions(db, roster.commerce)
    assert [v.text for v in versions] == ["十月工作进展：签约13个项目。", "十月工作进展（更正）。"]
    async with db.sessions() as session:  # filed as a report, never as a round answer
        assert await session.scalar(select(func.count()).select_from(Round)) == 1


async def test_reports_count_no_open_collection_for_routing(db: Database) -> None:
    """The monthly round never makes an unmarked report ambiguous: it is the default, as before."""
    roster = await reported(db)
    (reply,) = await say(db, roster.deputy, "十月工作进展：又一版。", local(2026, 11, 21))
    assert "请告知这条消息是答复哪一项" not in reply
    assert len(await submissions(db, roster.commerce)) == 2


def test_export_of_the_monthly_round(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def prepare() -> int:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            await reported(db)
            return (await october_round(db)).id
        finally:
            await db.close()

    number = asyncio.run(prepare())
    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    output = tmp_path / "月报.xlsx"
    with time_machine.travel(local(2026, 12, 2, 9), tick=False):
        assert main(["--config", str(config), "export", "--round", str(number), "-o", str(output)]) == 0
    assert f"已导出月报#{number}的答复：{output}" in capsys.readouterr().out
    sheet = load_workbook(output).active
    assert sheet is not None
    assert re.search(rf"月报#{number}“2026年10月工作进展”", str(sheet["A1"].value))
    header = [cell.value for cell in sheet[2]]
    assert header == ["序号", "单位", "答复原文", "答复时间", "版本", "按时/逾期", "需核对"]
    rows = {row[1]: row[2:6] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["省商务厅"][0] == "十月工作进展：签约13个项目。"
    assert rows["省商务厅"][2:] == ("1", "按时")
    assert rows["省发展改革委"][2:] == ("1", "逾期")
    assert rows["省财政厅"][0] is None and rows["省财政厅"][3] == "未答复"


async def _run(db: Database, job: str, at: datetime, **settings: Any) -> list[OutboxMessage]:
    """Run ``job``'s occurrence at ``at`` (a minute later by the clock); everything posted so far."""
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        await run_job(jobs(db, **settings), job, at)
    return await posts(db)


def test_duban_status_shows_the_extended_deadline(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def prepare() -> None:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            roster = await reported(db)
            await say(db, roster.office, f"截止 #{(await october_round(db)).id} 11月30日", local(2026, 11, 24))
        finally:
            await db.close()

    asyncio.run(prepare())
    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    with time_machine.travel(local(2026, 11, 28, 9), tick=False):
        assert main(["--config", str(config), "status", "--period", "2026-10", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["deadline"], status["closed"]) == ("2026-11-30T23:59:59+08:00", False)
