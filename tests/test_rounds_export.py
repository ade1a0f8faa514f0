"""``duban export --round N -o FILE.xlsx``: one row per unit asked, one column per named field, on both databases."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from conftest import truncate_all
from handlers_kit import local, say
from openpyxl import load_workbook
from test_cli_reports import CONFIG
from test_rounds import OPENED, open_collection

from bot.cli import main
from storage.db import Database


@pytest.fixture
def answered(tmp_path: Path, database_url: str) -> tuple[Path, int]:
    async def prepare() -> int:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            roster, number = await open_collection(db)
            at = OPENED + timedelta(days=1)
            await say(db, roster.liaison, f"#{number} 姓名：张三 职务：处长 手机：13912345678", at)
            await say(db, roster.reform_liaison, f'#{number} =HYPERLINK("http://x") 另行报送', at)
            await say(db, roster.office, f"结束 #{number}", at + timedelta(days=20))
            await say(db, roster.deputy, f"#{number} 李娜 副处长 13800000002", at + timedelta(days=21))
            return number
        finally:
            await db.close()

    number = asyncio.run(prepare())
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path, number


def test_export_has_a_column_per_field(
    answered: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, number = answered
    output = tmp_path / "征集.xlsx"
    with time_machine.travel(local(2026, 4, 2, 9), tick=False):
        assert main(["--config", str(config), "export", "--round", str(number), "-o", str(output)]) == 0
    assert f"已导出征集#{number}的答复：{output}（已答复 2 个单位，未答复 2 个）" in capsys.readouterr().out
    sheet = load_workbook(output).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    assert header == ["序号", "单位", "姓名", "职务", "手机", "答复原文", "答复时间", "版本", "按时/逾期", "需核对"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {"省商务厅", "省发展改革委", "省工业和信息化厅", "省财政厅"}
    commerce = rows["省商务厅"]
    assert commerce[2:5] == ("李娜", "副处长", "13800000002")  # the latest version counts
    assert commerce[6] == datetime(2026, 4, 1, 10, 0)  # the office's wall-clock time
    assert commerce[7:10] == ("2", "逾期", None)  # after the close: kept, marked late
    reform = rows["省发展改革委"]
    assert reform[5] == '=HYPERLINK("http://x") 另行报送'  # text, never a formula
    assert reform[8:10] == ("按时", "是")  # fields not readable: flagged for the office
    assert rows["省财政厅"][8] == "未答复"


def test_export_refusals(answered: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, number = answered
    assert main(["--config", str(config), "export", "--round", "99", "-o", str(tmp_path / "x.xlsx")]) == 2
    assert "没有编号为 99 的征集" in capsys.readouterr().err
    assert main(["--config", str(config), "export", "--round", str(number), "-o", str(tmp_path / "x.zip")]) == 2
    assert not (tmp_path / "x.xlsx").exists()
