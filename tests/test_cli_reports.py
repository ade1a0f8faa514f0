"""``duban status`` and ``duban export`` through ``bot.cli.main``, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from conftest import truncate_all
from handlers_kit import SHANGHAI, Roster, local, say, seed
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from storage.db import Database
from storage.models import Person, Role
from storage.periods import Period
from storage.standing import PeriodStanding, period_standing

CONFIG = """
office_name = "强省会工作机制办公室"

[database]
url = "{url}"
"""

FORMULA_LIKE = '=HYPERLINK("http://evil.example","点击")'
LONG_REPORT = "一、重点项目：\n" + "推进顺利。" * 5000


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    async def prepare() -> None:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            roster = await seed(db)
            await reports(db, roster)
        finally:
            await db.close()

    asyncio.run(prepare())
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path


async def reports(db: Database, roster: Roster) -> None:
    """省商务厅 on time (2 versions, the latest long), 省发展改革委 late and formula-like; two units missing."""
    await say(db, roster.liaison, "第一版", local(2026, 11, 10, 9, 15))
    await say(db, roster.deputy, LONG_REPORT + "\x07", local(2026, 11, 20, 16, 40))
    await say(db, roster.reform_liaison, FORMULA_LIKE, local(2026, 11, 26, 8, 5))


def duban(config: Path, *args: str) -> int:
    with time_machine.travel(local(2026, 11, 28, 9), tick=False):
        return main(["--config", str(config), *args])


def test_status_table(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "status") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2026年10月工作进展报送情况（截止 2026-11-25 23:59，已截止）"
    assert out[1] == "应报 4 个单位：按时 1，逾期 1，未报送 2；按时报送率 25.0%"
    assert out[3].split() == ["序号", "单位", "责任处室", "报送情况", "首次报送", "最新报送", "版本数"]
    assert set(out[4]) == {"-", " "}
    assert [line.split() for line in out[5:]] == [
        ["1", "省商务厅", "对外贸易处", "按时报送", "2026-11-10", "09:15", "2026-11-20", "16:40", "2"],
        ["2", "省发展改革委", "综合处", "逾期报送", "2026-11-26", "08:05", "2026-11-26", "08:05", "1"],
        ["3", "省工业和信息化厅", "规划处", "未报送", "0"],
        ["4", "省财政厅", "预算处", "未报送", "0"],
    ]


def test_status_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "status", "--period", "2026-10", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["period"] == "2026-10"
    assert document["deadline"] == "2026-11-25T23:59:59+08:00"
    assert document["closed"] is True
    assert document["counts"] == {"units": 4, "on_time": 1, "late": 1, "missing": 2}
    assert document["on_time_rate"] == 0.25
    assert [(u["name"], u["status"], u["versions"]) for u in document["units"]] == [
        ("省商务厅", "on_time", 2),
        ("省发展改革委", "late", 1),
        ("省工业和信息化厅", "missing", 0),
        ("省财政厅", "missing", 0),
    ]
    assert document["units"][0]["first_at"] == "2026-11-10T09:15:00+08:00"
    assert document["units"][2]["first_at"] is None

    assert duban(config, "status", "--period", "2026-09", "--json") == 0
    assert json.loads(capsys.readouterr().out)["counts"]["missing"] == 4


def test_status_refuses_a_bad_period(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for wrong in ("10月", "2026-13"):
        assert duban(config, "status", "--period", wrong) == 2
        assert capsys.readouterr().err.strip() == f"期别应写作 YYYY-MM（月份 01–12），例如 2026-10；收到“{wrong}”。"


def test_export(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "台账-2026-10.xlsx"
    assert duban(config, "export", "--period", "2026-10", "-o", str(output)) == 0
    assert capsys.readouterr().out.strip() == (
        f"已导出 2026年10月报送台账：{output}（4 个单位，按时 1，逾期 1，未报送 2）"
    )
    assert not list(tmp_path.glob(".*.tmp"))

    workbook = load_workbook(output)
    assert workbook.sheetnames == ["2026年10月台账"]
    sheet = workbook["2026年10月台账"]
    assert sheet["A1"].value == "强省会工作机制办公室 2026年10月工作进展报送台账"
    assert "A1:H1" in {str(cells) for cells in sheet.merged_cells.ranges}
    assert [cell.value for cell in sheet[2]] == [
        "序号",
        "单位",
        "责任处室",
        "报送情况",
        "首次报送时间",
        "最新报送时间",
        "版本数",
        "最新内容",
    ]
    assert all(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:H6"
    assert sheet.column_dimensions["B"].width == 24
    assert sheet.column_dimensions["H"].width == 80

    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=3, max_row=6)]
    assert [row[:4] for row in rows] == [
        [1, "省商务厅", "对外贸易处", "按时"],
        [2, "省发展改革委", "综合处", "逾期"],
        [3, "省工业和信息化厅", "规划处", "未报送"],
        [4, "省财政厅", "预算处", "未报送"],
    ]
    assert rows[0][4:7] == [datetime(2026, 11, 10, 9, 15), datetime(2026, 11, 20, 16, 40), 2]
    assert sheet["E3"].number_format == "yyyy-mm-dd hh:mm"
    assert rows[0][7] == LONG_REPORT  # full text, the forbidden control character removed
    assert sheet["H3"].alignment.wrap_text is True
    assert rows[1][7] == FORMULA_LIKE
    assert sheet["H4"].data_type == "s"  # kept as text, never a formula
    assert rows[2][4:8] == [None, None, 0, None]
    assert sheet["A8"].value == "合计：应报4个单位，按时1个，逾期1个，未报送2个，按时报送率25.0%。"


def test_export_refusals(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duban(config, "export", "--period", "2026-10", "-o", str(tmp_path / "台账.csv")) == 2
    assert "应以 .xlsx 或 .zip 结尾" in capsys.readouterr().err
    assert duban(config, "export", "--period", "2026-10", "-o", str(tmp_path / "nowhere" / "台账.xlsx")) == 2
    assert "不存在" in capsys.readouterr().err
    assert duban(config, "export", "--period", "2026/10", "-o", str(tmp_path / "台账.xlsx")) == 2
    assert not (tmp_path / "台账.xlsx").exists()


def test_commands_refuse_an_out_of_date_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), encoding="utf-8")
    assert duban(config, "status") == 3
    assert "duban db upgrade" in capsys.readouterr().err
    assert duban(config, "export", "--period", "2026-10", "-o", str(tmp_path / "台账.xlsx")) == 3
    assert "duban db upgrade" in capsys.readouterr().err
    assert not (tmp_path / "台账.xlsx").exists()


def test_status_agrees_with_the_chat_command_and_the_console(
    config: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One statement decides a period's standing: ``duban status`` (on SQLite read through ``sqlite3`` alone), 统计
    in chat and the console's 总览 (both ``period_standing`` through the service's session) count alike."""
    assert duban(config, "status", "--period", "2026-10", "--json") == 0
    document = json.loads(capsys.readouterr().out)

    async def service_side() -> tuple[PeriodStanding, list[str]]:
        db = Database(database_url)
        try:
            async with db.sessions() as session:
                office = await session.scalar(select(Person).where(Person.role == Role.OFFICE).order_by(Person.id))
                standing = await period_standing(session, Period(2026, 10))
            assert office is not None
            return standing, await say(db, office, "统计 2026-10", local(2026, 11, 28, 9))
        finally:
            await db.close()

    standing, replies = asyncio.run(service_side())
    counts = {
        "units": len(standing.units),
        "on_time": len(standing.on_time),
        "late": len(standing.late),
        "missing": len(standing.missing),
    }
    assert document["counts"] == counts == {"units": 4, "on_time": 1, "late": 1, "missing": 2}
    shown = [(u["name"], u["status"], u["versions"], u["first_at"], u["latest_at"]) for u in document["units"]]
    assert shown == [
        (
            unit.unit_name,
            unit.status,
            unit.versions,
            unit.first_at and unit.first_at.astimezone(SHANGHAI).isoformat(),
            unit.latest_at and unit.latest_at.astimezone(SHANGHAI).isoformat(),
        )
        for unit in standing.units
    ]
    [reply] = replies
    assert "应报4个单位：按时报送1个，逾期报送1个，未报送2个；按时报送率25.0%" in reply
