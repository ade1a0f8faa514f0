"""Every sentence the bot says in answer to a message, in one place, in the register of an office.

Names from the roster and words people wrote pass through :func:`storage.outbound.quote` before they are
placed in a reply, so nothing in them can mention, link or format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from storage.file_names import human_size
from storage.models import FileState, Person, Round, StoredFile, Submission
from storage.outbound import quote
from storage.periods import DeadlineRule, Period
from storage.rounds import CLOSED
from storage.standing import PeriodStanding, UnitStanding

if TYPE_CHECKING:
    from handlers.commands.registry import CommandSpec

CORRECTION_HINT = '如需更正请直接重新发送，补充内容请以"补充"开头。'


def moment(at: datetime, tz: tzinfo) -> str:
    """``11月20日10:32`` in the office's time zone."""
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def full_moment(at: datetime, tz: tzinfo) -> str:
    """``2026年11月20日10:32`` in the office's time zone."""
    local = at.astimezone(tz)
    return f"{local.year}年{moment(at, tz)}"


def due_label(rule: DeadlineRule, period: Period) -> str:
    """``11月25日23:59``: the last minute of the period's deadline, as the office announces it."""
    return moment(rule.deadline(period), rule.tz)


def timing(on_time: bool) -> str:
    return "按时报送" if on_time else "逾期报送"


def names(items: Sequence[str]) -> str:
    return "、".join(quote(item) for item in items)


# ---- who is speaking ----


def unknown_sender(office_name: str) -> str:
    return (
        f"您好！系统名册中暂未登记您的账号，本条消息已留存，但暂不能作为工作进展登记。"
        f"如需报送或查询，请联系{quote(office_name)}核实名册信息。"
    )


def no_unit(person: Person, office_name: str) -> str:
    return (
        f"您好，{quote(person.name)}同志！名册中您尚未关联有效的成员单位，本条消息已留存，但暂不能登记为工作进展。"
        f"请联系{quote(office_name)}核实名册信息。"
    )


# ---- reports ----


def report_received(
    unit: str,
    period: Period,
    tz: tzinfo,
    *,
    version: int,
    received_at: datetime,
    supplement: bool,
    on_time: bool,
    note: str = "",
) -> str:
    when = moment(received_at, tz)
    head = f"已收到【{quote(unit)}】{period.label}工作进展"
    if supplement and version > 1:
        head += f"补充内容，已并入第{version}版（{when}，{timing(on_time)}）。"
    else:
        head += f"（第{version}版，{when}，{timing(on_time)}）。"
    return head + note + CORRECTION_HINT


SUPPLEMENT_WITHOUT_EARLIER = "本期此前尚未收到报告，本条补充内容已登记为第1版。"


def command_word_as_report(word: str) -> str:
    return f"本条以“{word}”开头，已按工作进展登记。"


def future_period(period: Period, open_period: Period, rule: DeadlineRule) -> str:
    return (
        f"本条消息未登记：所注期别为{period.label}，该月工作进展应于{period.next().label}报送"
        f"（截止{full_moment(rule.deadline(period), rule.tz)}），现在尚不能登记。"
        f"当前报送的是{open_period.label}的工作进展；如系笔误，请修改期别后重新发送。"
    )


def period_too_old(period: Period, office_name: str) -> str:
    return (
        f"本条消息未登记：所注期别为{period.label}，已超过12个月，系统不再接收该期报送。"
        f"如确需补报，请联系{quote(office_name)}。"
    )


def marker_without_content(period: Period) -> str:
    return f"已识别期别为{period.label}，但未收到正文。请在期别后写明工作进展内容，重新发送。"


SUPPLEMENT_WITHOUT_CONTENT = "请在“补充”后写明需要补充的内容，重新发送。"

COURTESY = "好的。本条未作为工作进展登记；如需报送或更正，请直接发送完整内容。"
OFFICE_COURTESY = "好的。发送“帮助”可查看可用命令。"

EMPTY_TEXT = "您好！未收到文字内容。报送工作进展请直接发送文字；发送“帮助”可查看使用说明。"


def supplement_separator(at: datetime, tz: tzinfo) -> str:
    return f"\n\n——{moment(at, tz)}补充——\n"


_KINDS = {
    "image": "图片",
    "picture": "图片",
    "file": "文件",
    "voice": "语音",
    "audio": "语音",
    "video": "视频",
    "link": "链接",
    "location": "位置",
    "event": "事件通知",
}


def attachment_kind(kind: str) -> str:
    return _KINDS.get(kind, "附件")


def attachment_received(
    unit: str, submission: Submission, period: Period, tz: tzinfo, *, kinds: Sequence[str], new_version: bool
) -> str:
    what = "、".join(dict.fromkeys(attachment_kind(kind) for kind in kinds)) or "附件"
    head = f"已收到【{quote(unit)}】{period.label}工作进展的{what}"
    when = moment(submission.received_at, tz)
    if new_version:
        return (
            f"{head}，已登记为第{submission.version}版（{when}，{timing(submission.on_time)}）。"
            "如需文字说明，请直接发送。"
        )
    return f"{head}，已附于第{submission.version}版（{when}报送）。"


def unsupported_message(kind: str) -> str:
    label = _KINDS.get(kind, "此类消息")
    return (
        f"您好！暂不能处理{label}，本条消息已留存。"
        "本机器人可接收文字消息；联络员报送工作进展时也可发送图片和文件。发送“帮助”可查看使用说明。"
    )


OFFICE_ATTACHMENT = "您好！办公室成员发送的图片和文件不作为报送材料登记。发送“帮助”可查看可用命令。"


def refused_command(word: str, office_name: str) -> str:
    return (
        f"抱歉，“{word}”命令仅限{quote(office_name)}成员使用，本次操作未执行，已记录在案。"
        f"如需报送工作进展，请直接发送内容（不要以“{word}”开头）；发送“帮助”可查看您可使用的功能。"
    )


def apology(office_name: str) -> str:
    return (
        f"您好！您的消息已收到，但系统暂时未能完成处理，已通知{quote(office_name)}跟进，请勿重复发送。"
        f"如有急事，请直接联系{quote(office_name)}。"
    )


def failure_notice(sender: str, platform: str, received_at: datetime, inbox_id: int, reason: str, tz: tzinfo) -> str:
    cause = f"\n原因：{quote(reason, max_chars=200)}" if reason else ""
    return (
        f"**消息处理失败**\n{quote(sender)}（{quote(platform)}）于{full_moment(received_at, tz)}发来的消息"
        f"（收件编号 {inbox_id}）未能自动处理，已保留并标记为失败，请及时核查。{cause}"
    )


# ---- help ----


def liaison_help(
    person: Person,
    unit: str,
    open_period: Period,
    rule: DeadlineRule,
    office_name: str,
    specs: Sequence[CommandSpec] = (),
    *,
    join_minutes: int = 10,
    max_megabytes: float = 50,
) -> str:
    role = person.role.label
    commands = [f"- {spec.usage}：{spec.summary}" for spec in specs]
    return "\n".join(
        [
            f"**使用说明**（{quote(unit)}·{role}）",
            f"- 报送工作进展：直接发送文字，即登记为{open_period.label}的工作进展；"
            "每次发送登记为新的一版，以最新一版为准。",
            "- 指定期别：在开头注明，如“10月：……”或“2026年10月：……”。",
            "- 补充内容：以“补充”开头发送，将并入最新一版。",
            "- 报送文件（Word、PDF、Excel 等）：请在与本机器人的单聊中直接发送（群聊中平台不投递文件），"
            f"登记为新的一版；在发送文字后{join_minutes}分钟内发来的文件并入同一版。"
            f"单个文件不超过{max_megabytes:.3g} MB。",
            "- 图片：直接发送，附于本期最新一版。",
            "- 答复征集、会议回执：回复“#编号 内容”（编号见征集消息，如“征集#7”）；在企业微信、钉钉中也可引用"
            "该征集消息后直接写内容，不必写编号。",
            f"- 报送时限：每月{rule.day}日{rule.at:%H:%M}前报送上月工作进展；{open_period.label}的截止时间为"
            f"{full_moment(rule.deadline(open_period), rule.tz)}。",
            f"- 如有疑问，请联系{quote(office_name)}。",
            *(["**督办事项**", *commands] if commands else []),
        ]
    )


def office_help(specs: Sequence[CommandSpec], *, lead: str = "") -> str:
    lines = [lead] if lead else []
    lines.append("**办公室可用命令**")
    for spec in specs:
        aliases = "，".join(spec.aliases)
        lines.append(f"- {spec.usage}：{spec.summary}" + (f"（{aliases}）" if aliases else ""))
    lines.append("期别可写作 2026-10、2026年10月 或 10月，不写则为当前报送期。")
    return "\n".join(lines)


def office_member_lead(office_name: str) -> str:
    return f"您好！您是{quote(office_name)}成员，无需报送工作进展。"


# ---- 统计 ----


def standing_summary(standing: PeriodStanding, round_: Round, tz: tzinfo, now: datetime) -> str:
    """``统计``: the period's standing under its monthly round's number, deadline (extensions included) and state."""
    period = standing.period
    head = f"**{period.label}工作进展报送情况**（月报#{round_.id}）"
    if not standing.units:
        return f"{head}\n名册中暂无在册成员单位。"
    deadline = round_.deadline
    closed = "已截止" if now > deadline else "尚未截止"
    if round_.state == CLOSED:
        closed = "已结束，此后的报送标注为逾期"
    on_time, late, missing = standing.on_time, standing.late, standing.missing
    lines = [
        head,
        f"截止时间：{full_moment(deadline, tz)}（{closed}）",
        f"应报{len(standing.units)}个单位：按时报送{len(on_time)}个，逾期报送{len(late)}个，"
        f"未报送{len(missing)}个；按时报送率{standing.on_time_rate:.1%}。",
    ]
    for label, group in (("按时报送", on_time), ("逾期报送", late), ("未报送", missing)):
        if group:
            lines.append(f"- {label}（{len(group)}）：{unit_names(group)}")
    return "\n".join(lines)


def unit_names(units: Sequence[UnitStanding]) -> str:
    return names([unit.unit_name for unit in units])


# ---- 查看 ----

SHOW_USAGE = "请写明要查看的单位，例如：查看 省商务厅 10月"


def unit_not_found(query: str) -> str:
    return f"未找到名称含“{quote(query)}”的在册成员单位，请核对单位名称。"


def unit_ambiguous(query: str, candidates: Sequence[str]) -> str:
    return f"名称含“{quote(query)}”的单位有{len(candidates)}个：{names(candidates)}。请写出更完整的单位名称。"


def unit_not_reported(unit: str, period: Period) -> str:
    return f"【{quote(unit)}】尚未报送{period.label}工作进展。"


SHOW_TEXT_LIMIT = 800
SHOW_HISTORY_LIMIT = 10


def show_report(
    unit: str,
    period: Period,
    history: Sequence[Submission],
    tz: tzinfo,
    files: Mapping[int, Sequence[StoredFile]] | None = None,
) -> str:
    """The latest version and the history; ``files`` (by version id) are listed under each version."""
    files = files or {}
    latest = history[-1]
    sender = latest.person.name if latest.person is not None else "（未知）"
    lines = [
        f"**【{quote(unit)}】{period.label}工作进展**（第{latest.version}版，{moment(latest.received_at, tz)}，"
        f"{timing(latest.on_time)}，报送人：{quote(sender)}）"
    ]
    text = latest.text.strip()
    if text:
        lines += quote(text, max_chars=SHOW_TEXT_LIMIT).splitlines()
        if len(text) > SHOW_TEXT_LIMIT:
            lines.append(f"（全文共{len(text)}字，此处仅显示开头部分；完整内容请导出台账查看。）")
    else:
        lines.append("（本版无文字内容）")
    lines += document_excerpts(latest, files.get(latest.id, ()))
    if latest.attachments and not files.get(latest.id):
        lines.append(f"附件：{len(latest.attachments)}个")
    lines.append(f"**版本记录**（共{len(history)}版）")
    shown = history[-SHOW_HISTORY_LIMIT:]
    if len(history) > len(shown):
        lines.append(f"（仅列最近{len(shown)}版）")
    for item in shown:
        who = quote(item.person.name) if item.person is not None else "（未知）"
        extra = "，补充" if item.is_supplement else ""
        lines.append(f"- 第{item.version}版：{moment(item.received_at, tz)}，{who}，{timing(item.on_time)}{extra}")
        lines += version_files(files.get(item.id, ()))
    return "\n".join(lines)


EXCERPT_CHARS = 300


def version_files(files: Sequence[StoredFile]) -> list[str]:
    """Lines for ``查看``: each file of one version, with its state and size."""
    lines = []
    for file in files:
        if file.state is FileState.STORED:
            lines.append(f"  - 《{quote(file.name)}》{human_size(file.size)}（编号 {file.id}）")
        elif file.state is FileState.PENDING:
            lines.append(f"  - 《{quote(file.name)}》正在接收（编号 {file.id}）")
        elif file.state is FileState.REFUSED:
            lines.append(f"  - 《{quote(file.name)}》超过大小上限，未接收（编号 {file.id}）")
        else:
            lines.append(f"  - 《{quote(file.name)}》未能接收：{quote(file.reason)}（编号 {file.id}）")
    return lines


def document_excerpts(version: Submission, files: Sequence[StoredFile]) -> list[str]:
    """The opening of each document's text, unless the version's text already is that document's."""
    lines = []
    for file in files:
        if file.text and not version.text.startswith(f"（据附件《{file.name}》）"):
            lines.append(f"《{quote(file.name)}》正文摘录：")
            lines += quote(file.text.strip(), max_chars=EXCERPT_CHARS).splitlines()
    return lines


# ---- 催办 ----


def reminded(period: Period, units: Sequence[str]) -> str:
    return f"已向{len(units)}个单位的联络员发出{period.label}工作进展催办：{names(units)}。"


def all_reported(period: Period) -> str:
    return f"{period.label}工作进展各成员单位均已报送，无需催办。"


def nobody_to_remind(period: Period, missing: Sequence[str]) -> str:
    return (
        f"{period.label}尚有{len(missing)}个单位未报送（{names(missing)}），但其联络员均不在已登记的群中，"
        "未能发出催办。请核对名册中的所在群。"
    )


# ---- 通知 / 确认 ----

ANNOUNCE_USAGE = "请写明通知内容，例如：通知 请各成员单位于本周五前报送材料。指定群时写作：通知 @群名 内容"


def unknown_group(name: str, available: Sequence[str]) -> str:
    listed = names(available) if available else "（暂无）"
    return f"未找到名为“{quote(name)}”的群。可发送的群：{listed}。"


NO_GROUPS = "当前没有可发送通知的群，请先在配置文件中登记成员单位所在的群。"


def announce_preview(text: str, targets: Sequence[str], code: str, minutes: int, at_all: bool) -> str:
    where = f"群“{quote(targets[0])}”" if len(targets) == 1 else f"全部{len(targets)}个群（{names(targets)}）"
    # The office's own words, shown exactly as they will be posted.
    lines = [f"**通知预览**（发送至{where}{'，并提醒所有人' if at_all else ''}）", text]
    lines.append(f"请在{minutes}分钟内回复“确认 {code}”发送；未确认则不发送。")
    return "\n".join(lines)


def announcement_title(office_name: str) -> str:
    return f"{quote(office_name)}通知"


CONFIRM_USAGE = "请写明确认码，例如：确认 K7Q2"


def confirm_unknown(code: str) -> str:
    return f"未找到确认码“{quote(code)}”，请核对后重试。"


def confirm_expired(code: str, minutes: int) -> str:
    return f"确认码“{quote(code)}”已过期（有效期{minutes}分钟），通知未发送。如仍需发送，请重新发送“通知”。"


def confirm_repeated(code: str, at: datetime, who: str, tz: tzinfo) -> str:
    return f"确认码“{quote(code)}”的通知已于{moment(at, tz)}由{quote(who)}确认发送，本次未重复发送。"


def announced(targets: Sequence[str]) -> str:
    return f"已确认，通知已排队发送至{len(targets)}个群：{names(targets)}。"


# ---- 重发 ----

RESEND_USAGE = "请写明要重发的发送记录编号，例如：重发 128"


def resend_not_found(outbox_id: int) -> str:
    return f"未找到编号为 {outbox_id} 的发送记录。"


def resent(original: int, copy: int, target: str) -> str:
    return f"已将发送记录 {original}（发往“{quote(target)}”）重新排队发送，新记录编号 {copy}。"
