"""Writing the roster back in the format it is imported in: .xlsx, or .csv in UTF-8 with BOM (Excel opens it)."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.roster.columns import Column
from storage.roster import RosterRow

HEADERS = [column.value for column in Column]
GROUP_SEPARATOR = "、"
_COLUMN_WIDTHS = (22, 16, 10, 8, 14, 18, 18, 18, 30)
# Excel runs a cell beginning with one of these as a formula when it opens a CSV file.
_FORMULA_STARTS = ("=", "+", "-", "@")


def row_values(row: RosterRow) -> list[str]:
    return [
        row.unit,
        row.division,
        row.name,
        row.role.label,
        row.mobile or "",
        row.wecom_userid or "",
        row.dingtalk_userid or "",
        row.feishu_userid or "",
        GROUP_SEPARATOR.join(row.groups),
    ]


def write_roster(path: Path, rows: Sequence[RosterRow]) -> None:
    """Write ``rows`` to ``path`` (.xlsx or .csv by extension), replacing the file only once fully written."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        data = roster_xlsx_bytes(rows)
    elif suffix == ".csv":
        data = _csv_bytes(rows)
    else:
        raise ValueError(f"不支持导出为「{suffix or '无扩展名'}」：请使用 .xlsx 或 .csv")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _csv_bytes(rows: Sequence[RosterRow]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow([_csv_safe(value) for value in row_values(row)])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_safe(value: str) -> str:
    """Keep Excel from reading a cell as a formula (the importer drops the apostrophe again)."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def roster_xlsx_bytes(rows: Sequence[RosterRow]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "名册"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row_values(row))
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            # Text, always: a mobile must not become a number, and nothing may become a formula.
            cell.data_type = "s"
            cell.number_format = "@"
    for index, width in enumerate(_COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
