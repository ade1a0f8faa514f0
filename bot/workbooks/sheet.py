"""What every workbook the CLI exports shares: the sheet set-up, safe text cells and an all-or-nothing save.

Cell text is what people wrote, so it is kept as text even when it starts with ``=`` (no formula injection),
stripped of the control characters the file format forbids, and cut at Excel's limit of 32,767 characters per
cell with a note. Times are written as the office's wall-clock time, since Excel has no time zones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

EXCEL_CELL_LIMIT = 32_767
TRUNCATED_NOTE = "……（内容超出Excel单元格上限，已截断，完整内容请在系统中查看）"
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TIME_FORMAT = "yyyy-mm-dd hh:mm"
HEADER_ROW = 2
TOP = Alignment(vertical="top", wrap_text=True)
CENTERED = Alignment(horizontal="center", vertical="top")


def cell_text(text: str) -> str:
    """``text`` as a cell may hold it: no forbidden control characters, at most 32,767 characters."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(cleaned) > EXCEL_CELL_LIMIT:
        cleaned = cleaned[: EXCEL_CELL_LIMIT - len(TRUNCATED_NOTE)] + TRUNCATED_NOTE
    return cleaned


def text_cell(sheet: Worksheet, row: int, column: int, value: str) -> Cell:
    """A cell holding ``value`` as text, cleaned by :func:`cell_text`."""
    cell = sheet.cell(row=row, column=column, value=cell_text(value))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def local_time(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """Excel has no time zones: the office's wall-clock time, without a zone."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def new_sheet(
    *, sheet_title: str, workbook_title: str, heading: str, columns: Sequence[tuple[str, int]]
) -> tuple[Workbook, Worksheet]:
    """A workbook with one sheet: ``heading`` merged across row 1, then the styled header row of ``columns``."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = sheet_title
    workbook.properties.title = workbook_title
    workbook.properties.creator = "duban"

    title = text_cell(sheet, 1, 1, heading)
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center", vertical="center")
    sheet.merge_cells(f"A1:{get_column_letter(len(columns))}1")
    sheet.row_dimensions[1].height = 28

    for index, (name, width) in enumerate(columns, start=1):
        cell = text_cell(sheet, HEADER_ROW, index, name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.row_dimensions[HEADER_ROW].height = 22
    return workbook, sheet


def finish_sheet(sheet: Worksheet, *, column_count: int, last_row: int, freeze: str) -> None:
    """Freeze panes at ``freeze``, filter the header, repeat it on every printed page, print landscape to width."""
    sheet.freeze_panes = freeze
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(column_count)}{max(last_row, HEADER_ROW + 1)}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Write through a temporary file in the same folder, so a failed write never leaves half a workbook."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        workbook.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
