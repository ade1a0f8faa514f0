"""The bodies of the two monthly documents: the 月度通报 (who reported on time, late or not at all, the items,
next month's arrangements) and the 快报 (every unit's latest report, in roster order)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from schedules.documents.data import CircularData, FlashData, ItemsNow
from schedules.documents.gongwen import GongwenWriter
from schedules.documents.numerals import chinese_number
from storage.items import Light, MonthFigures
from storage.standing import UnitStanding

# Characters XML 1.0 cannot carry (python-docx refuses them): a report pasted from elsewhere may hold some.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
STATUS_SHORT = {"on_time": "按时", "late": "逾期", "missing": "未报"}


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def day_text(day: date) -> str:
    return f"{day.month}月{day.day}日"


def moment_text(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%m-%d %H:%M") if moment is not None else "—"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def names(units: Sequence[UnitStanding]) -> str:
    return "、".join(clean(unit.unit_name) for unit in units)


def ordinal(index: int) -> str:
    """1 → 一、 for 一级标题."""
    return f"{chinese_number(index)}、"


def sub_ordinal(index: int) -> str:
    """1 → （一） for 二级标题."""
    return f"（{chinese_number(index)}）"


def standing_table(writer: GongwenWriter, units: Sequence[UnitStanding], tz: ZoneInfo) -> None:
    rows = [
        [
            str(n),
            clean(u.unit_name),
            u.label,
            moment_text(u.first_at, tz),
            moment_text(u.latest_at, tz),
            str(u.versions),
        ]
        for n, u in enumerate(units, start=1)
    ]
    writer.table(["序号", "单位", "报送情况", "首次报送", "最新报送", "版本数"], rows, [12, 52, 22, 27, 27, 16])


def items_month_text(label: str, figures: MonthFigures) -> str:
    average = (
        f"，平均办结用时{figures.average_days_to_close:.1f}天" if figures.average_days_to_close is not None else ""
    )
    return (
        f"{label}，新提出问题{figures.raised}项，交办{figures.assigned}项，办结销号{figures.closed}项{average}；"
        f"期末逾期未办结{figures.overdue}项。"
    )


def items_now_text(items: ItemsNow) -> str:
    return (
        f"截至{day_text(items.day)}，在办督办事项{items.open_total}项，其中已逾期（红灯）{items.count(Light.RED)}项、"
        f"临近到期或未按时签收（黄灯）{items.count(Light.AMBER)}项、正常推进（绿灯）{items.count(Light.GREEN)}项，"
        f"待交办{items.waiting}项，待审核销号{items.review}项。"
    )


def lead_units_table(writer: GongwenWriter, items: ItemsNow) -> None:
    if not items.by_lead:
        return
    rows = [[str(n), clean(row.unit_name), str(row.open), str(row.overdue)] for n, row in enumerate(items.by_lead, 1)]
    writer.table(["序号", "牵头单位", "在办事项（项）", "其中逾期（项）"], rows, [16, 76, 32, 32])


def write_circular(writer: GongwenWriter, data: CircularData, tz: ZoneInfo, day: date) -> None:
    standing = data.standing
    period = standing.period
    writer.addressee("各成员单位：")
    writer.text(
        f"按照工作机制要求，各成员单位应于{day_text(data.due)}前报送{period.label}工作进展和重点项目推进情况。"
        "现将报送情况和督办事项办理情况通报如下。"
    )
    writer.heading("一、报送情况")
    if not standing.units:
        writer.text("名册中暂无在册成员单位。")
    else:
        writer.text(
            f"截至{day_text(day)}，应报送{len(standing.units)}家，按时报送{len(standing.on_time)}家，"
            f"逾期报送{len(standing.late)}家，未报送{len(standing.missing)}家，"
            f"按时报送率{percent(standing.on_time_rate)}。"
        )
        by_first = sorted(standing.on_time, key=lambda u: (u.first_at or datetime.max, u.unit_id))
        sections = [
            ("按时报送", by_first, "（按首次报送时间先后排列）。对以上单位予以通报表扬。"),
            ("逾期报送", standing.late, "。请以上单位严格按照时限要求报送。"),
            ("未报送", standing.missing, "。请以上单位抓紧补报，并说明未按时报送原因。"),
        ]
        index = 0
        for label, units, closing in sections:
            if units:
                index += 1
                writer.subheading(f"{sub_ordinal(index)}{label}的单位（{len(units)}家）")
                writer.text(f"{names(units)}{closing}")
        writer.text("各成员单位报送情况如下表。")
        standing_table(writer, standing.units, tz)
    writer.heading("二、督办事项办理情况")
    writer.text(items_month_text(f"{data.collected.month}月", data.month_items))
    writer.text(items_now_text(data.items) + ("各牵头单位在办事项如下表。" if data.items.by_lead else ""))
    lead_units_table(writer, data.items)
    writer.heading("三、下月工作安排")
    writer.subheading("（一）按时报送工作进展")
    writer.text(
        f"请各成员单位于{day_text(data.next_due)}前报送{data.next_period.label}工作进展和重点项目推进情况，"
        "由联络员在工作群内@机器人或与机器人单聊报送。"
    )
    due_soon = data.items.due_between(data.items.day, data.next_due)
    overdue = [s for s in data.items.standings if s.light is Light.RED]
    if due_soon or overdue:
        writer.subheading("（二）加快办理督办事项")
        if overdue:
            listed = "；".join(
                f"#{s.item.number}{clean(s.item.title)}（{clean(s.item.lead_unit.name) if s.item.lead_unit else '—'}，"
                f"逾期{s.days_overdue}天）"
                for s in overdue
            )
            writer.text(f"已逾期事项：{listed}。请牵头单位尽快办结，确有困难的及时向办公室说明。")
        if due_soon:
            listed = "；".join(
                f"#{s.item.number}{clean(s.item.title)}（{clean(s.item.lead_unit.name) if s.item.lead_unit else '—'}，"
                f"{day_text(s.item.due)}到期）"
                for s in due_soon
                if s.item.due is not None and s.light is not Light.RED
            )
            if listed:
                writer.text(f"下月到期事项：{listed}。请牵头单位按期办结并报告。")


def write_flash(writer: GongwenWriter, data: FlashData, day: date) -> None:
    standing = data.ledger.standing
    period = standing.period
    reported = len(standing.units) - len(standing.missing)
    writer.text(
        f"现将各成员单位报送的{period.label}工作进展摘编如下（按成员单位顺序排列，以各单位最新报送版本为准）。"
        f"截至{day_text(day)}，应报送{len(standing.units)}家，已报送{reported}家，"
        f"尚未报送{len(standing.missing)}家。"
    )
    for index, entry in enumerate(data.entries, start=1):
        writer.heading(f"{ordinal(index)}{clean(entry.standing.unit_name)}")
        if entry.standing.status == "missing":
            writer.text("本期尚未报送。")
            continue
        writer.lead_text(clean(entry.lead), "")
        for line in entry.rest.splitlines():
            if line.strip():
                writer.text(clean(line.strip()))
        if entry.attachments:
            listed = "；".join(clean(attachment.label) for attachment in entry.attachments)
            writer.text(f"附件（{len(entry.attachments)}件）：{listed}。")
