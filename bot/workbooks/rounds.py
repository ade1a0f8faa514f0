"""A collection's answers as a workbook: one row per unit asked, one column per named field, then the answer as
written, its time, its version and whether it came on time."""

from __future__ import annotations

from datetime import datetime, tzinfo

from openpyxl import Workbook

from bot.workbooks.sheet import BORDER, CENTERED, TIME_FORMAT, TOP, finish_sheet, local_time, new_sheet, text_cell
from storage.rounds import RoundStanding, UnitAnswer, number_label


def _state(unit: UnitAnswer) -> str:
    if not unit.answered:
        return "未答复"
    return "逾期" if unit.late else "按时"


def build_round_workbook(standing: RoundStanding, *, tz: tzinfo, office_name: str, now: datetime) -> Workbook:
    round_ = standing.round
    fields = [str(name) for name in round_.fields]
    columns = [("序号", 6), ("单位", 24), *[(name, 18) for name in fields]]
    columns += [("答复原文", 48), ("答复时间", 18), ("版本", 6), ("按时/逾期", 10), ("需核对", 8)]
    deadline = round_.deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    workbook, sheet = new_sheet(
        sheet_title=number_label(round_),
        workbook_title=f"{number_label(round_)} {round_.title}",
        heading=f"{office_name} {number_label(round_)}“{round_.title}”答复汇总（截止 {deadline}，导出于 "
        f"{now.astimezone(tz):%Y-%m-%d %H:%M}）",
        columns=columns,
    )
    row = 2
    for number, unit in enumerate(standing.units, start=1):
        row += 1
        values = [str(number), unit.unit_name, *[str(unit.values.get(name, "")) for name in fields], unit.text]
        for column, value in enumerate(values, start=1):
            cell = text_cell(sheet, row, column, value)
            cell.border = BORDER
            cell.alignment = CENTERED if column == 1 else TOP
        column = len(values) + 1
        when = sheet.cell(row=row, column=column, value=local_time(unit.answered_at, tz))
        when.number_format = TIME_FORMAT
        when.border = BORDER
        for offset, value in enumerate(
            [
                str(unit.versions) if unit.answered else "",
                _state(unit),
                "是" if unit.answered and not unit.parsed else "",
            ],
            start=1,
        ):
            cell = text_cell(sheet, row, column + offset, value)
            cell.border = BORDER
            cell.alignment = CENTERED
    finish_sheet(sheet, column_count=len(columns), last_row=row, freeze="C3")
    return workbook
