"""Every sentence of the 督办 ledger commands (问题、交办、签收、进展、办结、销号、退回、延期、中止、事项).

Titles, descriptions, reasons and unit names pass through :func:`storage.outbound.quote` before they are
placed in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo

from handlers.texts import full_moment, moment, names
from storage.items import ItemRow, ItemStanding, Light
from storage.models import Item, ItemEvent, ItemState
from storage.outbound import quote

TITLE_LIMIT = 60
LIST_LIMIT = 30
TIMELINE_LIMIT = 15

ACTIONS = {
    "raise": "提出",
    "assign": "交办",
    "sign": "签收",
    "progress": "进展",
    "done": "办结",
    "close": "销号",
    "reject": "退回",
    "extend": "延期",
    "stop": "中止",
}


def day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def ref(item: Item) -> str:
    return f"#{item.number}"


def headline(item: Item | ItemRow) -> str:
    """``#12「外贸企业用地审批慢」``."""
    return f"#{item.number}「{quote(item.title, max_chars=TITLE_LIMIT)}」"


RAISE_USAGE = "请写明问题的标题和内容，例如：问题 外贸企业用地审批慢：某园区3家企业用地手续已报送两月未批复。"
ASSIGN_USAGE = "请按以下格式交办：交办 #12 牵头单位 [配合 配合单位…] 截止 12月10日"
REF_USAGE = "请写明事项编号，例如：{word} #12"
REASON_USAGE = "请写明事项编号和{what}，例如：{word} #12 {example}"
EXTEND_USAGE = "请写明事项编号、新的截止日期和原因，例如：延期 #12 12月20日 需协调省级部门会商"


def ref_usage(word: str) -> str:
    return REF_USAGE.format(word=word)


def reason_usage(word: str, what: str, example: str) -> str:
    return REASON_USAGE.format(word=word, what=what, example=example)


def raised(item: Item) -> str:
    return (
        f"已登记问题{headline(item)}，状态：待交办。办公室交办后将通知牵头单位；可发送“事项 {ref(item)}”查看办理情况。"
    )


def raised_notice(item: Item, who: str, unit: str | None) -> str:
    source = f"{quote(unit)}{quote(who)}" if unit else quote(who)
    return (
        f"{source}提出问题{headline(item)}：{quote(item.description, max_chars=300) or '（未写明内容）'}\n"
        f"请办公室研究后交办：交办 {ref(item)} 牵头单位 [配合 配合单位…] 截止 日期"
    )


def unknown_item(number: int) -> str:
    return f"未找到编号为#{number}的事项，请核对编号；发送“事项”可查看全部事项。"


def wrong_state(item: Item, word: str, allowed: Sequence[ItemState]) -> str:
    wanted = "或".join(f"“{state.label}”" for state in allowed)
    return f"事项{headline(item)}当前状态为“{item.state.label}”，只有{wanted}的事项可以{word}。"


def not_lead_liaison(item: Item, word: str, lead: str | None) -> str:
    unit = f"牵头单位{quote(lead)}" if lead else "牵头单位"
    return f"抱歉，事项{headline(item)}只能由{unit}的联络员（A角、B角）{word}。"


def office_only(word: str, office_name: str) -> str:
    return f"抱歉，“{word}”由{quote(office_name)}办理。如需帮助，请联系办公室。"


def unit_not_found(name: str) -> str:
    return f"未找到名为“{quote(name)}”的成员单位，请核对单位全称。"


def unit_ambiguous(name: str, candidates: Sequence[str]) -> str:
    return f"“{quote(name)}”可能指以下单位：{names(candidates)}。请写明单位全称。"


def past_due(due: date, today: date) -> str:
    return f"截止日期{day(due)}早于今天（{day(today)}），请重新确定截止日期。"


def non_working_due(due: date, reason: str) -> str:
    return f"请注意：{day(due)}为{reason}，不是工作日。"


def assigned(item: Item, lead: str, supporting: Sequence[str], warning: str, *, told: bool) -> str:
    also = f"，配合单位：{names(supporting)}" if supporting else ""
    note = f"\n{warning}" if warning else ""
    sent = (
        "已在群内通知牵头单位联络员签收。"
        if told
        else f"{quote(lead)}的联络员未登记在任何群中，机器人无法通知，请另行告知其回复“签收 {ref(item)}”。"
    )
    return f"已交办事项{headline(item)}：牵头单位{quote(lead)}{also}，截止{day(item.due or date.min)}。{sent}{note}"


def assigned_notice(item: Item, lead: str, supporting: Sequence[str], office_name: str) -> str:
    also = f"\n配合单位：{names(supporting)}" if supporting else ""
    return (
        f"{quote(office_name)}交办督办事项{headline(item)}：\n"
        f"{quote(item.description, max_chars=500) or quote(item.title)}\n"
        f"牵头单位：{quote(lead)}{also}\n截止日期：{day(item.due or date.min)}\n"
        f"请牵头单位联络员回复“签收 {ref(item)}”，办理中可回复“进展 {ref(item)} 内容”，"
        f"办结后回复“办结 {ref(item)} 办理结果”。"
    )


def supporting_notice(item: Item, lead: str) -> str:
    return f"请配合单位积极配合{quote(lead)}办理，有关情况可回复“进展 {ref(item)} 内容”。"


def signed(item: Item) -> str:
    due = f"，截止{day(item.due)}" if item.due else ""
    return f"已签收事项{headline(item)}，状态：办理中{due}。办理中请及时回复进展。"


def progress_recorded(item: Item, at: datetime, tz: tzinfo) -> str:
    return f"已记录事项{headline(item)}的办理进展（{moment(at, tz)}）。"


def done_reported(item: Item) -> str:
    return f"已收到事项{headline(item)}的办结报告，状态：待审核。办公室审核后将告知结果。"


def done_notice(item: Item, unit: str, who: str, text: str) -> str:
    return (
        f"{quote(unit)}{quote(who)}报告事项{headline(item)}已办结：{quote(text, max_chars=500)}\n"
        f"请审核：同意销号请回复“销号 {ref(item)}”，需继续办理请回复“退回 {ref(item)} 原因”。"
    )


def closed(item: Item) -> str:
    return f"事项{headline(item)}已销号，状态：已办结。"


def closed_notice(item: Item, office_name: str) -> str:
    return f"{quote(office_name)}已审核同意，事项{headline(item)}销号办结。感谢各单位的辛勤工作！"


def rejected(item: Item) -> str:
    return f"已退回事项{headline(item)}，状态：办理中，已通知牵头单位继续办理。"


def rejected_notice(item: Item, office_name: str, reason: str) -> str:
    return f"{quote(office_name)}退回事项{headline(item)}，请继续办理。退回原因：{quote(reason, max_chars=300)}"


def extended(item: Item, old: date | None, warning: str) -> str:
    before = f"由{day(old)}" if old else ""
    note = f"\n{warning}" if warning else ""
    return f"事项{headline(item)}截止日期已{before}调整为{day(item.due or date.min)}。{note}"


def extended_notice(item: Item, office_name: str, old: date | None, reason: str) -> str:
    before = f"由{day(old)}" if old else ""
    return (
        f"{quote(office_name)}将事项{headline(item)}的截止日期{before}调整为{day(item.due or date.min)}。"
        f"原因：{quote(reason, max_chars=300)}"
    )


def stopped(item: Item) -> str:
    return f"事项{headline(item)}已中止。"


def stopped_notice(item: Item, office_name: str, reason: str) -> str:
    return f"{quote(office_name)}中止事项{headline(item)}，不再办理。原因：{quote(reason, max_chars=300)}"


def light_mark(light: Light | None) -> str:
    return light.mark if light else ""


def item_line(item: Item | ItemRow, light: Light | None) -> str:
    lead = f"，牵头：{quote(item.lead_unit.name)}" if item.lead_unit else ""
    due = f"，截止{item.due.month}月{item.due.day}日" if item.due else ""
    return f"- {light_mark(light)}{headline(item)}（{item.state.label}{lead}{due}）"


def item_list(heading: str, lines: Sequence[str]) -> str:
    if not lines:
        return f"{heading}：暂无事项。"
    shown = list(lines[:LIST_LIMIT])
    more = f"\n……另有{len(lines) - LIST_LIMIT}项，完整台账请由办公室导出。" if len(lines) > LIST_LIMIT else ""
    return f"{heading}（{len(lines)}项）：\n" + "\n".join(shown) + more


def standing_line(standing: ItemStanding) -> str:
    extra = f"，已逾期{standing.days_overdue}天" if standing.days_overdue else ""
    return item_line(standing.item, standing.light) + extra


def item_detail(item: Item, light: Light | None, events: Sequence[ItemEvent], tz: tzinfo) -> str:
    lines = [f"**督办事项{headline(item)}** {light_mark(light)}".rstrip(), f"状态：{item.state.label}"]
    if item.description:
        lines.append(f"内容：{quote(item.description, max_chars=500)}")
    if item.lead_unit:
        lines.append(f"牵头单位：{quote(item.lead_unit.name)}")
    if item.supporting_units:
        lines.append(f"配合单位：{names([unit.name for unit in item.supporting_units])}")
    if item.due:
        lines.append(f"截止日期：{day(item.due)}")
    lines.append("办理过程：")
    shown = list(events)[-TIMELINE_LIMIT:]
    if len(events) > TIMELINE_LIMIT:
        lines.append(f"- （此前{len(events) - TIMELINE_LIMIT}条从略）")
    lines += [f"- {timeline_line(event, tz)}" for event in shown]
    return "\n".join(lines)


def timeline_line(event: ItemEvent, tz: tzinfo) -> str:
    """``2026年11月20日10:32 张伟 签收``, with the words and any due-date change."""
    parts = [full_moment(event.at, tz), quote(event.actor or "系统"), ACTIONS.get(event.action, event.action)]
    line = " ".join(parts)
    if event.new_due is not None:
        before = f"{day(event.old_due)}→" if event.old_due else ""
        line += f"（截止日期{before}{day(event.new_due)}）"
    if event.text:
        line += f"：{quote(event.text, max_chars=300).replace(chr(10), ' ')}"
    return line


ITEMS_USAGE = "查看督办事项：事项（全部在办事项）、事项 #12、事项 单位名称、事项 逾期"
