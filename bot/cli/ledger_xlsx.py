"""A period's 台账 as an .xlsx workbook that opens cleanly in Excel and WPS.

One row per active unit (序号, 单位, 责任处室, 报送情况, 首次/最新报送时间, 版本数, 最新内容), a title row, a
styled and frozen header with a filter, and a totals line. Cell text is what people wrote, so it is kept as
text even when it starts with ``=`` (no formula injection), stripped of the control characters the file format
forbids, and cut at Excel's limit of 32,767 characters per cell with a note.
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from storage.reports import Ledger

EXCEL_CELL_LIMIT = 32_767
TRUNCATED_NOTE = "……（内容超出Excel单元格上限，已截断，完整内容请在系统中查看）"
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
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TIME_FORMAT = "yyyy-mm-dd hh:mm"
HEADER_ROW = 2


def cell_text(text: str) -> str:
    """``text`` as a cell may hold it: no forbidden control characters, at most 32,767 characters."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(cleaned) > EXCEL_CELL_LIMIT:
        cleaned = cleaned[: EXCEL_CELL_LIMIT - len(TRUNCATED_NOTE)] + TRUNCATED_NOTE
    return cleaned


def _text(sheet: Worksheet, row: int, column: int, value: str) -> Cell:
    cell = sheet.cell(row=row, column=column, value=cell_text(value))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """Excel has no time zones: the office's wall-clock time, without a zone."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def sheet_title(ledger: Ledger) -> str:
    return f"{ledger.period.label}台账"


def build_workbook(ledger: Ledger, *, tz: tzinfo, office_name: str) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = sheet_title(ledger)
    workbook.properties.title = f"{ledger.period.label}工作进展报送台账"
    workbook.properties.creator = "duban"

    last_column = get_column_letter(len(COLUMNS))
    title = _text(sheet, 1, 1, f"{office_name} {ledger.period.label}工作进展报送台账")
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center", vertical="center")
    sheet.merge_cells(f"A1:{last_column}1")
    sheet.row_dimensions[1].height = 28

    for index, (name, width) in enumerate(COLUMNS, start=1):
        cell = _text(sheet, HEADER_ROW, index, name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.row_dimensions[HEADER_ROW].height = 22

    top = Alignment(vertical="top", wrap_text=True)
    centered = Alignment(horizontal="center", vertical="top")
    row_number = HEADER_ROW
    for number, line in enumerate(ledger.rows, start=1):
        row_number = HEADER_ROW + number
        unit = line.standing
        content = line.latest_text
        if line.latest_attachments:
            content = (
                f"{content}\n（附件{line.latest_attachments}个）" if content else f"（附件{line.latest_attachments}个）"
            )
        cells = [
            sheet.cell(row=row_number, column=1, value=number),
            _text(sheet, row_number, 2, unit.unit_name),
            _text(sheet, row_number, 3, unit.division),
            _text(sheet, row_number, 4, STATUS_LABELS[unit.status]),
            sheet.cell(row=row_number, column=5, value=_local(unit.first_at, tz)),
            sheet.cell(row=row_number, column=6, value=_local(unit.latest_at, tz)),
            sheet.cell(row=row_number, column=7, value=unit.versions),
            _text(sheet, row_number, 8, content),
        ]
        for cell in cells:
            cell.border = BORDER
            cell.alignment = top
        for cell in (cells[0], cells[3], cells[6]):
            cell.alignment = centered
        cells[3].fill = STATUS_FILLS[unit.status]
        cells[4].number_format = TIME_FORMAT
        cells[5].number_format = TIME_FORMAT

    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{max(row_number, HEADER_ROW + 1)}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    standing = ledger.standing
    _text(
        sheet,
        row_number + 2,
        1,
        f"合计：应报{len(standing.units)}个单位，按时{len(standing.on_time)}个，逾期{len(standing.late)}个，"
        f"未报送{len(standing.missing)}个，按时报送率{standing.on_time_rate:.1%}。",
    )
    return workbook


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Write through a temporary file in the same folder, so a failed write never leaves half a workbook."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        workbook.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
