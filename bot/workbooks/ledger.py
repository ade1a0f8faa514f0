"""A period's 台账 as an .xlsx workbook that opens cleanly in Excel and WPS.

One row per active unit (序号, 单位, 责任处室, 报送情况, 首次/最新报送时间, 版本数, 最新内容), a title row, a
styled and frozen header with a filter, and a totals line. Cell text is kept as text whatever it starts with (no
formula injection), cleaned and cut by :func:`bot.workbooks.sheet.cell_text`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from openpyxl import Workbook
from openpyxl.styles import PatternFill

from bot.workbooks.sheet import (
    BORDER,
    CENTERED,
    HEADER_ROW,
    TIME_FORMAT,
    TOP,
    finish_sheet,
    local_time,
    new_sheet,
    text_cell,
)
from storage.reports import Ledger

COLUMNS = (
    ("序号", 6),
    ("单位", 24),
    ("责任处室", 16),
    ("报送情况", 10),
    ("首次报送时间", 18),
    ("最新报送时间", 18),
    ("版本数", 8),
    ("最新内容", 80),
)
STATUS_LABELS = {"on_time": "按时", "late": "逾期", "missing": "未报送"}
STATUS_FILLS = {
    "on_time": PatternFill("solid", fgColor="E2EFDA"),
    "late": PatternFill("solid", fgColor="FFF2CC"),
    "missing": PatternFill("solid", fgColor="FCE4D6"),
}


def sheet_title(ledger: Ledger) -> str:
    return f"{ledger.period.label}台账"


def build_workbook(
    ledger: Ledger, *, tz: tzinfo, office_name: str, files: Mapping[int, Sequence[str]] | None = None
) -> Workbook:
    """The workbook; ``files`` names each unit's files (by unit id), listed under its latest content."""
    workbook, sheet = new_sheet(
        sheet_title=sheet_title(ledger),
        workbook_title=f"{ledger.period.label}工作进展报送台账",
        heading=f"{office_name} {ledger.period.label}工作进展报送台账",
        columns=COLUMNS,
    )
    row_number = HEADER_ROW
    for number, line in enumerate(ledger.rows, start=1):
        row_number = HEADER_ROW + number
        unit = line.standing
        content = line.latest_text
        named = (files or {}).get(unit.unit_id)
        if named:
            listing = "附件：" + "；".join(named)
            content = f"{content}\n{listing}" if content else listing
        elif line.latest_attachments:
            content = (
                f"{content}\n（附件{line.latest_attachments}个）" if content else f"（附件{line.latest_attachments}个）"
            )
        cells = [
            sheet.cell(row=row_number, column=1, value=number),
            text_cell(sheet, row_number, 2, unit.unit_name),
            text_cell(sheet, row_number, 3, unit.division),
            text_cell(sheet, row_number, 4, STATUS_LABELS[unit.status]),
            sheet.cell(row=row_number, column=5, value=local_time(unit.first_at, tz)),
            sheet.cell(row=row_number, column=6, value=local_time(unit.latest_at, tz)),
            sheet.cell(row=row_number, column=7, value=unit.versions),
            text_cell(sheet, row_number, 8, content),
        ]
        for cell in cells:
            cell.border = BORDER
            cell.alignment = TOP
        for cell in (cells[0], cells[3], cells[6]):
            cell.alignment = CENTERED
        cells[3].fill = STATUS_FILLS[unit.status]
        cells[4].number_format = TIME_FORMAT
        cells[5].number_format = TIME_FORMAT

    finish_sheet(sheet, column_count=len(COLUMNS), last_row=row_number, freeze=f"A{HEADER_ROW + 1}")

    standing = ledger.standing
    text_cell(
        sheet,
        row_number + 2,
        1,
        f"合计：应报{len(standing.units)}个单位，按时{len(standing.on_time)}个，逾期{len(standing.late)}个，"
        f"未报送{len(standing.missing)}个，按时报送率{standing.on_time_rate:.1%}。",
    )
    return workbook
