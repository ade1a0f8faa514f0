"""Reading a spreadsheet into rows of text, whatever Excel (or WPS) wrote: .xlsx, legacy .xls, or .csv in
UTF-8 / GBK.

Every row keeps the number Excel shows for it, so that a problem can be pointed at. A file that cannot be
read — damaged, truncated, hostile (a zip whose parts expand beyond reason) — is refused with
:class:`UnreadableFile` and a Chinese reason, whatever the reading library raised.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.functions import iterparse
from python_calamine import CalamineWorkbook

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_EXPANDED_BYTES = 200 * 1024 * 1024  # what the .xlsx's parts may expand to (a zip bomb expands far beyond)
MAX_ROWS = 20_000
CSV_DELIMITERS = (",", "\t", ";")
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


class UnreadableFile(Exception):
    """The file cannot be read as a spreadsheet at all; the message says why, in Chinese."""


@dataclass(frozen=True)
class Sheet:
    """One sheet's cells as text; ``rows`` pairs each row's Excel number with its cells.

    ``name`` is the worksheet's title, or ``None`` for a CSV file.
    """

    name: str | None
    rows: list[tuple[int, list[str]]]


def read_sheets(path: Path) -> list[Sheet]:
    """The sheets of a ``.xlsx`` file (active sheet first), or the one table of a ``.csv`` file.

    A CSV gives one candidate table per plausible delimiter; the caller keeps the one whose header it recognises.
    """
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls", ".csv", ".txt"):
        if suffix in (".et", ".wps"):
            raise UnreadableFile(f"不支持 {suffix} 格式：请在 Excel 或 WPS 中“另存为” .xlsx 或 .csv 后再导入")
        raise UnreadableFile(f"不支持的文件类型「{suffix or '无扩展名'}」：请使用 .xlsx、.xls 或 .csv")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnreadableFile(f"找不到文件 {path}") from None
    if size > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"文件过大（{size // 1024 // 1024} MB），名册文件不应超过 {MAX_FILE_BYTES // 1024 // 1024} MB"
        )
    if suffix in (".csv", ".txt"):
        text = decode_csv(path.read_bytes())
        return [Sheet(name=None, rows=_csv_rows(text, delimiter)) for delimiter in CSV_DELIMITERS]
    try:
        return _xls_sheets(path) if suffix == ".xls" else _xlsx_sheets(path)
    except UnreadableFile:
        raise
    except Exception as exc:  # a damaged or hostile workbook: whatever the parser raised, the answer is the same
        raise UnreadableFile(
            f"无法读取 Excel 文件：文件已损坏或不是有效的 {suffix} 文件（{type(exc).__name__}）"
        ) from None


def decode_csv(data: bytes) -> str:
    """The text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK)."""
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise UnreadableFile("文件中含有空字符（NUL），不是文本格式的 CSV：请在 Excel 中“另存为” CSV（逗号分隔）")
        return text
    raise UnreadableFile("无法识别文件编码：请将 CSV 保存为 UTF-8 或 GBK 编码")


def _csv_rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            if number > MAX_ROWS:
                raise UnreadableFile(f"行数超过 {MAX_ROWS} 行，不像是一份名册")
            rows.append((number, [_unquote(cell) for cell in cells]))
    except csv.Error:
        raise UnreadableFile(f"CSV 格式有误（第 {reader.line_num} 行附近）：可能有不成对的引号或过长的单元格") from None
    return rows


def _unquote(cell: str) -> str:
    # A leading apostrophe is how people (and our export) keep Excel from reading a cell as a number or formula.
    return cell[1:] if cell.startswith("'") else cell


def _xls_sheets(path: Path) -> list[Sheet]:
    """A legacy Excel 97–2003 workbook, read by calamine (merged cells are not recorded in .xls by calamine)."""
    workbook = CalamineWorkbook.from_path(str(path))
    sheets = []
    for name in workbook.sheet_names:
        rows = []
        for number, values in enumerate(workbook.get_sheet_by_name(name).iter_rows(), start=1):
            if number > MAX_ROWS:
                raise UnreadableFile(f"工作表「{name}」行数超过 {MAX_ROWS} 行，不像是一份名册")
            rows.append((number, [cell_text(value) for value in values]))
        sheets.append(Sheet(name=name, rows=rows))
    return sheets


def _check_expansion(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    if expanded > MAX_EXPANDED_BYTES:
        raise UnreadableFile("Excel 文件解压后过大，不像是一份名册（可能已损坏）")


def _xlsx_sheets(path: Path) -> list[Sheet]:
    # The file is opened here, so that it is closed even when openpyxl fails half-way through loading it.
    with path.open("rb") as handle:
        return _workbook_sheets(path, handle)


def _workbook_sheets(path: Path, handle: BinaryIO) -> list[Sheet]:
    try:
        _check_expansion(path)
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(f"无法读取 Excel 文件：{exc}") from None
    try:
        worksheets = list(workbook.worksheets)
        active = workbook.active
        if active in worksheets:
            worksheets.remove(active)
            worksheets.insert(0, active)
        sheets = []
        for worksheet in worksheets:
            if not hasattr(worksheet, "iter_rows"):  # a chart sheet
                continue
            worksheet.reset_dimensions()  # some writers record a wrong used range; read to the real end
            rows = []
            for number, values in enumerate(worksheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
                if number > MAX_ROWS:
                    raise UnreadableFile(f"工作表「{worksheet.title}」行数超过 {MAX_ROWS} 行，不像是一份名册")
                rows.append((number, [cell_text(value) for value in values]))
            _fill_merged(rows, _merged_ranges(path, getattr(worksheet, "_worksheet_path", None)))
            sheets.append(Sheet(name=worksheet.title, rows=rows))
        return sheets
    finally:
        workbook.close()


def cell_text(value: Any) -> str:
    """A cell's value as the text Excel shows (a mobile typed as a number comes back without ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _merged_ranges(path: Path, member: str | None) -> list[tuple[int, int, int, int]]:
    """The merged ranges of one sheet, as (min_col, min_row, max_col, max_row).

    openpyxl's read-only mode does not expose them, but offices merge the 单位 cell over a unit's A角 and B角
    rows all the time, and Excel shows that value on every row of the range.
    """
    if member is None:
        return []
    ranges = []
    with zipfile.ZipFile(path) as archive, archive.open(member.lstrip("/")) as source:
        for _event, element in iterparse(source):
            if element.tag == f"{_SHEET_NS}mergeCell" and element.get("ref"):
                ranges.append(range_boundaries(element.get("ref")))
            elif element.tag == f"{_SHEET_NS}row":
                element.clear()
    return ranges


def _fill_merged(rows: list[tuple[int, list[str]]], ranges: list[tuple[int, int, int, int]]) -> None:
    """Copy each merged range's value down its first column, onto every row it covers."""
    by_number = {number: cells for number, cells in rows}
    for min_col, min_row, _max_col, max_row in ranges:
        top = by_number.get(min_row)
        if top is None or len(top) < min_col:
            continue
        value = top[min_col - 1]
        for number in range(min_row + 1, max_row + 1):
            cells = by_number.get(number)
            if cells is None:
                continue
            if len(cells) < min_col:
                cells.extend([""] * (min_col - len(cells)))
            cells[min_col - 1] = value
