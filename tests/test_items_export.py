"""``duban items export``: the 督办 ledger reopened with openpyxl (both backends)."""

import asyncio
from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from conftest import truncate_all
from handlers_kit import local, say, seed
from openpyxl import load_workbook

from bot.cli import main
from storage.db import Database

CONFIG = """
office_name = "强省会工作机制办公室"

[database]
url = "{url}"
"""
FORMULA = '=HYPERLINK("http://evil.example","点击")'


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    async def prepare() -> None:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            roster = await seed(db)
            monday = local(2026, 11, 23, 9)
            await say(db, roster.liaison, f"问题 {FORMULA}：内容\x07第一行", monday)
            await say(db, roster.office, "问题 园区道路未通：断头路", monday)
            await say(db, roster.office, "交办 #1 省发展改革委 配合 省商务厅 截止 11月25日", monday)
            await say(db, roster.reform_liaison, "签收 #1", local(2026, 11, 23, 10))
            await say(db, roster.reform_liaison, "进展 #1 已召开协调会\n第二行", local(2026, 11, 24, 10))
            await say(db, roster.office, "延期 #1 11月26日 需会商", local(2026, 11, 24, 11))
        finally:
            await db.close()

    asyncio.run(prepare())
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path


def test_export_reopens(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "督办事项台账.xlsx"
    with time_machine.travel(local(2026, 11, 30, 9), tick=False):
        assert main(["--config", str(config), "items", "export", "-o", str(output)]) == 0
    assert capsys.readouterr().out.strip() == f"已导出督办事项台账：{output}（2 项）"
    sheet = load_workbook(output)["督办事项台账"]
    assert sheet["A1"].value == "强省会工作机制办公室 督办事项台账（截至2026年11月30日）"
    header = [cell.value for cell in sheet[2]]
    assert header == [
        "编号", "事项", "提出人", "牵头单位", "配合单位", "截止日期", "状态", "灯号",
        "交办时间", "签收时间", "办结时间", "办理过程",
    ]  # fmt: skip
    assert all(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "C3"
    assert sheet.column_dimensions["L"].width == 70
    first = [cell for cell in sheet[3]]
    values = [cell.value for cell in first]
    assert values[0] == "#1"
    assert values[1].startswith(FORMULA) and first[1].data_type == "s"  # text, never a formula
    assert "\x07" not in values[1]
    assert values[2] == "张伟（省商务厅）"
    assert values[3:8] == ["省发展改革委", "省商务厅", datetime(2026, 11, 26), "办理中", "红灯"]
    assert values[8] == datetime(2026, 11, 23, 9) and values[9] == datetime(2026, 11, 23, 10)
    assert values[10] is None
    steps = values[11].splitlines()
    assert steps[0].startswith("2026-11-23 09:00 张伟 提出：")
    assert steps[1] == "2026-11-23 09:00 赵敏 交办：牵头单位：省发展改革委；配合单位：省商务厅（截止日期 2026-11-25）"
    assert steps[3] == "2026-11-24 10:00 王强 进展：已召开协调会 第二行"
    assert steps[4] == "2026-11-24 11:00 赵敏 延期：需会商（截止日期 2026-11-25→2026-11-26）"
    second = [cell.value for cell in sheet[4]]
    assert second[:8] == ["#2", "园区道路未通\n断头路", "赵敏（办公室）", None, None, None, "待交办", None]
    assert sheet["A6"].value == "合计：事项2项，其中红灯1项、黄灯0项、绿灯0项。"
    assert date(2026, 11, 26) == values[5].date()


def test_export_refusals(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "items", "export", "-o", str(tmp_path / "台账.csv")]) == 2
    assert "应以 .xlsx 结尾" in capsys.readouterr().err
    assert main(["--config", str(config), "items", "export", "-o", str(tmp_path / "无" / "台账.xlsx")]) == 2
    assert "不存在" in capsys.readouterr().err
