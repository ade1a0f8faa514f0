"""The 督办 ledger (督办事项台账) as an .xlsx workbook, in the layout offices keep it.

One row per item (编号, 事项, 提出人, 牵头单位, 配合单位, 截止日期, 状态, 灯号, 交办/签收/办结时间, 办理过程), a
title row, a styled and frozen header with a filter. Cell text is kept as text whatever it starts with (no
formula injection), cleaned and cut by :func:`bot.cli.ledger_xlsx.cell_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.cli.ledger_xlsx import cell_text
from handlers.item_texts import ACTIONS
from storage.items import Light
from storage.models import Item, ItemEvent

COLUMNS = (
    ("编号", 8),
    ("事项", 40),
    ("提出人", 14),
    ("牵头单位", 20),
    ("配合单位", 24),
    ("截止日期", 12),
    ("状态", 10),
    ("灯号", 8),
    ("交办时间", 17),
    ("签收时间", 17),
    ("办结时间", 17),
    ("办理过程", 70),
)
LIGHT_FILLS = {
    Light.RED: PatternFill("solid", fgColor="F8CBAD"),
    Light.AMBER: PatternFill("solid", fgColor="FFE699"),
    Light.GREEN: PatternFill("solid", fgColor="C6E0B4"),
}
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
HEADER_ROW = 2


def _text(sheet: Worksheet, row: int, column: int, value: str) -> Cell:
    cell = sheet.cell(row=row, column=column, value=cell_text(value))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _local(moment: datetime | None, tz: tzinfo) -> datetime | None:
    return moment.astimezone(tz).replace(tzinfo=None) if moment is not None else None


def timeline(events: Sequence[ItemEvent], tz: tzinfo) -> str:
    """One line per step: ``2026-11-23 09:00 赵敏 交办：牵头单位：省发展改革委（截止日期 2026-12-10）``."""
    lines = []
    for event in events:
        action = ACTIONS.get(event.action, event.action)
        line = f"{event.at.astimezone(tz):%Y-%m-%d %H:%M} {event.actor or '系统'} {action}"
        if event.text:
            line += f"：{event.text.replace(chr(10), ' ')}"
        if event.new_due is not None:
            before = f"{event.old_due.isoformat()}→" if event.old_due else ""
            line += f"（截止日期 {before}{event.new_due.isoformat()}）"
        lines.append(line)
    return "\n".join(lines)


def raiser(item: Item) -> str:
    person = item.raised_by
    if person is None:
        return ""
    if item.raised_by_office or person.unit is None:
        return f"{person.name}（办公室）" if item.raised_by_office else person.name
    return f"{person.name}（{person.unit.name}）"


def build_items_workbook(
    items: Sequence[Item], lights: dict[int, Light | None], *, tz: tzinfo, office_name: str, now: datetime
) -> Workbook:
    """The ledger of ``items`` (events and people loaded), each with its light at ``now``."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = "督办事项台账"
    workbook.properties.title = "督办事项台账"
    workbook.properties.creator = "duban"

    last_column = get_column_letter(len(COLUMNS))
    stamp = now.astimezone(tz)
    title = _text(sheet, 1, 1, f"{office_name} 督办事项台账（截至{stamp.year}年{stamp.month}月{stamp.day}日）")
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
    row = HEADER_ROW
    for row, item in enumerate(items, start=HEADER_ROW + 1):
        light = lights.get(item.id)
        subject = f"{item.title}\n{item.description}" if item.description else item.title
        cells = [
            _text(sheet, row, 1, f"#{item.number}"),
            _text(sheet, row, 2, subject),
            _text(sheet, row, 3, raiser(item)),
            _text(sheet, row, 4, item.lead_unit.name if item.lead_unit else ""),
            _text(sheet, row, 5, "、".join(unit.name for unit in item.supporting_units)),
            sheet.cell(row=row, column=6, value=item.due),
            _text(sheet, row, 7, item.state.label),
            _text(sheet, row, 8, light.label if light else ""),
            sheet.cell(row=row, column=9, value=_local(item.assigned_at, tz)),
            sheet.cell(row=row, column=10, value=_local(item.signed_at, tz)),
            sheet.cell(row=row, column=11, value=_local(item.closed_at, tz)),
            _text(sheet, row, 12, timeline(item.events, tz)),
        ]
        for cell in cells:
            cell.border = BORDER
            cell.alignment = top
        for cell in (cells[0], cells[5], cells[6], cells[7]):
            cell.alignment = centered
        if light is not None:
            cells[7].fill = LIGHT_FILLS[light]
        cells[5].number_format = DATE_FORMAT
        for cell in cells[8:11]:
            cell.number_format = TIME_FORMAT

    sheet.freeze_panes = f"C{HEADER_ROW + 1}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{max(row, HEADER_ROW + 1)}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    counts = {light: sum(1 for value in lights.values() if value is light) for light in Light}
    _text(
        sheet,
        row + 2,
        1,
        f"合计：事项{len(items)}项，其中红灯{counts[Light.RED]}项、黄灯{counts[Light.AMBER]}项、"
        f"绿灯{counts[Light.GREEN]}项。",
    )
    return workbook
