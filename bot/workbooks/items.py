"""The 督办 ledger (督办事项台账) as an .xlsx workbook, in the layout offices keep it.

One row per item (编号, 事项, 提出人, 牵头单位, 配合单位, 截止日期, 状态, 灯号, 交办/签收/办结时间, 办理过程), a
title row, a styled and frozen header with a filter. Cell text is kept as text whatever it starts with (no
formula injection), cleaned and cut by :func:`bot.workbooks.sheet.cell_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

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
DATE_FORMAT = "yyyy-mm-dd"


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
    stamp = now.astimezone(tz)
    workbook, sheet = new_sheet(
        sheet_title="督办事项台账",
        workbook_title="督办事项台账",
        heading=f"{office_name} 督办事项台账（截至{stamp.year}年{stamp.month}月{stamp.day}日）",
        columns=COLUMNS,
    )
    row = HEADER_ROW
    for row, item in enumerate(items, start=HEADER_ROW + 1):
        light = lights.get(item.id)
        subject = f"{item.title}\n{item.description}" if item.description else item.title
        cells = [
            text_cell(sheet, row, 1, f"#{item.number}"),
            text_cell(sheet, row, 2, subject),
            text_cell(sheet, row, 3, raiser(item)),
            text_cell(sheet, row, 4, item.lead_unit.name if item.lead_unit else ""),
            text_cell(sheet, row, 5, "、".join(unit.name for unit in item.supporting_units)),
            sheet.cell(row=row, column=6, value=item.due),
            text_cell(sheet, row, 7, item.state.label),
            text_cell(sheet, row, 8, light.label if light else ""),
            sheet.cell(row=row, column=9, value=local_time(item.assigned_at, tz)),
            sheet.cell(row=row, column=10, value=local_time(item.signed_at, tz)),
            sheet.cell(row=row, column=11, value=local_time(item.closed_at, tz)),
            text_cell(sheet, row, 12, timeline(item.events, tz)),
        ]
        for cell in cells:
            cell.border = BORDER
            cell.alignment = TOP
        for cell in (cells[0], cells[5], cells[6], cells[7]):
            cell.alignment = CENTERED
        if light is not None:
            cells[7].fill = LIGHT_FILLS[light]
        cells[5].number_format = DATE_FORMAT
        for cell in cells[8:11]:
            cell.number_format = TIME_FORMAT

    finish_sheet(sheet, column_count=len(COLUMNS), last_row=row, freeze=f"C{HEADER_ROW + 1}")
    counts = {light: sum(1 for value in lights.values() if value is light) for light in Light}
    text_cell(
        sheet,
        row + 2,
        1,
        f"合计：事项{len(items)}项，其中红灯{counts[Light.RED]}项、黄灯{counts[Light.AMBER]}项、"
        f"绿灯{counts[Light.GREEN]}项。",
    )
    return workbook
