"""The bodies of the documents over several months: the 季度通报 (the three months side by side, the items, a
ranking) and the 半年评估报告 (six months of standing as table, chart and heat map, the items by light, a section
per unit from its reports' leads, and room for the office's own assessment)."""

from __future__ import annotations

from datetime import date

from schedules.documents import charts
from schedules.documents.data import SpanData, UnitAcross
from schedules.documents.gongwen import GongwenWriter
from schedules.documents.monthly import (
    STATUS_SHORT,
    clean,
    day_text,
    items_month_text,
    items_now_text,
    lead_units_table,
    ordinal,
    percent,
    sub_ordinal,
)
from storage.items import UnitFigures

ASSESSMENT_LINES = 8


def _month_label(data: SpanData, index: int) -> str:
    return f"{data.span.periods[index].month}月"


def _month_summaries(writer: GongwenWriter, data: SpanData) -> None:
    for standing in data.standings:
        writer.text(
            f"{standing.period.label}：应报送{len(standing.units)}家，按时报送{len(standing.on_time)}家，"
            f"逾期报送{len(standing.late)}家，未报送{len(standing.missing)}家，"
            f"按时报送率{percent(standing.on_time_rate)}。"
        )


def _months_table(writer: GongwenWriter, data: SpanData, unit_width: float) -> None:
    months = [_month_label(data, i) for i in range(len(data.span.periods))]
    month_width = (156 - 12 - unit_width - 18) / len(months)
    rows = [
        [str(n), clean(unit.name), *(STATUS_SHORT[status] for status in unit.statuses), percent(unit.rate)]
        for n, unit in enumerate(data.units, start=1)
    ]
    writer.table(["序号", "单位", *months, "按时率"], rows, [12, unit_width, *[month_width] * len(months), 18])


def ranking(data: SpanData) -> list[tuple[int, UnitAcross, UnitFigures]]:
    """Units by on-time months, then items closed, then fewest overdue; equal units share a rank (并列)."""
    by_name = {figures.unit_name: figures for figures in data.figures.by_unit}
    scored = [(unit, by_name.get(unit.name, UnitFigures(unit.name, 0, 0, 0))) for unit in data.units]
    scored.sort(key=lambda pair: (-pair[0].on_time, -pair[1].closed, pair[1].overdue))
    ranked: list[tuple[int, UnitAcross, UnitFigures]] = []
    for index, (unit, figures) in enumerate(scored, start=1):
        key = (unit.on_time, figures.closed, figures.overdue)
        if ranked and (ranked[-1][1].on_time, ranked[-1][2].closed, ranked[-1][2].overdue) == key:
            ranked.append((ranked[-1][0], unit, figures))
        else:
            ranked.append((index, unit, figures))
    return ranked


def write_quarterly(writer: GongwenWriter, data: SpanData, day: date) -> None:
    span = data.span
    writer.addressee("各成员单位：")
    writer.text(
        f"现将{span.label}（{span.first.label}至{span.last.label}）各成员单位工作进展报送和督办事项办理情况通报如下。"
    )
    writer.heading("一、工作进展报送情况")
    _month_summaries(writer, data)
    writer.text(f"本季度各月合计按时报送率{percent(data.on_time_rate)}。各成员单位逐月报送情况如下表。")
    _months_table(writer, data, unit_width=64)
    writer.heading("二、督办事项办理情况")
    writer.text(items_month_text("本季度", data.figures))
    writer.text(items_now_text(data.items))
    if data.figures.by_unit:
        rows = [
            [str(n), clean(f.unit_name), str(f.assigned), str(f.closed), str(f.overdue)]
            for n, f in enumerate(data.figures.by_unit, start=1)
        ]
        writer.text("本季度各牵头单位事项办理情况如下表。")
        writer.table(["序号", "牵头单位", "交办（项）", "办结（项）", "季末逾期（项）"], rows, [14, 58, 26, 26, 32])
    writer.heading("三、综合排名")
    writer.text("按本季度按时报送月数、牵头办结事项数（多者在前）和季末逾期事项数（少者在前）排列，相同者并列。")
    months = len(span.periods)
    rows = [
        [str(rank), clean(unit.name), f"{unit.on_time}/{months}", percent(unit.rate), str(f.closed), str(f.overdue)]
        for rank, unit, f in ranking(data)
    ]
    writer.table(["名次", "单位", "按时月数", "按时率", "办结事项", "逾期事项"], rows, [14, 58, 22, 22, 20, 20])
    writer.heading("四、下一步工作要求")
    behind = [unit for unit in data.units if unit.on_time < months]
    if behind:
        listed = "、".join(clean(unit.name) for unit in behind)
        writer.text(f"{listed}本季度存在逾期或未报送情况，请切实加强联络员力量，严格按时限报送。")
    writer.text("请各牵头单位对照督办事项清单，逐项明确责任人和完成时限，推动问题按期解决。")


def write_evaluation(writer: GongwenWriter, data: SpanData, day: date, addressee: str) -> None:
    span = data.span
    if addressee:
        writer.addressee(f"{addressee}：")
    writer.text(
        f"根据工作机制要求，现将{span.label}（{span.first.label}至{span.last.label}）各成员单位工作进展报送、"
        "督办事项办理情况评估报告如下。"
    )
    writer.heading("一、工作进展报送情况")
    _month_summaries(writer, data)
    writer.text(f"六个月合计按时报送率{percent(data.on_time_rate)}。")
    months = [_month_label(data, i) for i in range(len(span.periods))]
    rates = [charts.MonthRate(months[i], standing.on_time_rate) for i, standing in enumerate(data.standings)]
    writer.picture(charts.on_time_chart(rates, f"{span.label}各月按时报送率"), "图1 各月按时报送率")
    writer.text("各成员单位逐月报送情况见下表和图2（绿色为按时报送，黄色为逾期报送，红色为未报送）。")
    _months_table(writer, data, unit_width=40)
    images = charts.heatmap_charts([unit.name for unit in data.units], months, [u.statuses for u in data.units])
    for number, image in enumerate(images, start=1):
        suffix = f"（{number}/{len(images)}）" if len(images) > 1 else ""
        writer.picture(image, f"图2 成员单位逐月报送情况{suffix}")
    writer.heading("二、督办事项办理情况")
    writer.text(items_month_text("半年来", data.figures))
    writer.text(items_now_text(data.items) + ("各牵头单位在办事项如下表。" if data.items.by_lead else ""))
    writer.picture(
        charts.lights_chart(data.items.by_light(), f"截至{day_text(data.items.day)}在办事项灯号"), "图3 在办事项灯号"
    )
    rows = [
        [_month_label(data, i), str(f.raised), str(f.assigned), str(f.closed), str(f.overdue)]
        for i, f in enumerate(data.monthly)
    ]
    writer.table(["月份", "新提出（项）", "交办（项）", "办结（项）", "月末逾期（项）"], rows, [28, 32, 32, 32, 32])
    lead_units_table(writer, data.items)
    writer.heading("三、各成员单位推进情况")
    for index, unit in enumerate(data.units, start=1):
        writer.subheading(f"{sub_ordinal(index)}{clean(unit.name)}")
        late = unit.statuses.count("late")
        missing = [month for month, status in zip(months, unit.statuses, strict=True) if status == "missing"]
        summary = (
            f"{span.label}按时报送{unit.on_time}次、逾期报送{late}次、未报送{len(missing)}次，"
            f"按时报送率{percent(unit.rate)}。"
        )
        writer.text(summary + (f"{'、'.join(missing)}未报送工作进展。" if missing else ""))
        for month, lead in zip(months, unit.leads, strict=True):
            if lead:
                writer.text(f"{month}：{clean(lead)}")
    writer.heading("四、办公室评估意见")
    writer.text("（由办公室填写。）")
    for _ in range(ASSESSMENT_LINES):
        writer.blank()
    writer.heading(f"{ordinal(5)}下一步工作打算")
    writer.text("（由办公室填写。）")
    for _ in range(ASSESSMENT_LINES // 2):
        writer.blank()
