"""The 督办 ledger in chat: an item goes from raised (待交办) to closed (已办结) by these commands.

The commands read what was typed (``交办 #12 省商务厅 配合 省财政厅 截止 12月10日``) and hand the action to
:mod:`handlers.services.items`, where the rules live for chat, command line and console alike: who may do what,
the state changes, the timeline, the notices to units and the office, and the audit. Every refusal is answered
courteously and audited.
"""

from __future__ import annotations

from collections.abc import Awaitable

from handlers import item_texts as texts
from handlers.commands.item_args import item_reference, parse_date, split_assignment, split_date
from handlers.commands.registry import CommandContext, command
from handlers.identity import strip_mention
from handlers.reports import file_report
from handlers.services import items as rules
from handlers.services.actor import Actor, Refused
from handlers.texts import command_word_as_report
from storage import items as ledger
from storage.models import Item, Unit
from storage.outbound import quote

REPORT_MIN_CHARS = 40  # as in handlers.dispatch: shorter one-liners are attempts at the command


def chat_actor(ctx: CommandContext) -> Actor:
    """The sender as an :class:`Actor` whose audit entries are the command's own (tied to its inbox row)."""
    return Actor(
        session=ctx.session,
        person=ctx.person,
        policy=ctx.policy,
        now=ctx.now,
        via="chat",
        inbox_id=ctx.inbox.id,
        audit_hook=ctx.audit,
    )


async def _answer(ctx: CommandContext, action: Awaitable[str]) -> None:
    """Reply with what the rule says: its confirmation, or its (already audited) refusal."""
    try:
        ctx.reply(await action)
    except Refused as refusal:
        ctx.reply(refusal.message)


async def _item(ctx: CommandContext, word: str) -> tuple[Item, str] | None:
    """The item the arguments name and the rest of them; answered and audited when there is none."""
    number, rest = item_reference(ctx.args)
    if number is None and await _as_report(ctx, word):
        return None
    if number is None:
        ctx.reply(texts.ref_usage(word))
        ctx.audit(word, ctx.args, "invalid")
        return None
    item = await ledger.by_number(ctx.session, number)
    if item is None:
        ctx.reply(texts.unknown_item(number))
        ctx.audit(word, ctx.args, "unknown_item")
        return None
    _, raw_rest = item_reference(ctx.raw_args.replace("＃", "#"))
    return item, raw_rest if raw_rest else rest


async def _as_report(ctx: CommandContext, word: str) -> bool:
    """A liaison's long or multi-line message that merely begins with 进展/办结… and names no item is the unit's
    report (``进展：本月完成…``), filed as such, as the dispatcher does for office-only words."""
    text = strip_mention(ctx.inbox.text or "")
    unit = ctx.person.unit
    if not ctx.person.role.is_liaison or unit is None or not unit.active:
        return False
    if "\n" not in text.strip() and len(text.strip()) < REPORT_MIN_CHARS:
        return False
    await file_report(
        ctx.session, ctx.inbox, ctx.person, unit, text, ctx.policy, now=ctx.now, note=command_word_as_report(word)
    )
    ctx.audit(word, "未写明事项编号，按工作进展登记", "filed_as_report")
    return True


async def _unit(ctx: CommandContext, name: str, word: str) -> Unit | None:
    found = await ledger.units_named(ctx.session, name)
    if len(found) == 1:
        return found[0]
    if found:
        ctx.reply(texts.unit_ambiguous(name, [unit.name for unit in found]))
        ctx.audit(word, ctx.args, "ambiguous_unit")
    else:
        ctx.reply(texts.unit_not_found(name))
        ctx.audit(word, ctx.args, "unknown_unit")
    return None


@command("问题", "/raise", usage="问题 标题：内容", summary="提出需要协调督办的问题", office_only=False)
async def raise_item(ctx: CommandContext) -> None:
    raw = ctx.raw_args.strip()
    title, separator, description = raw.partition("：")
    if not separator:
        title, separator, description = raw.partition(":")
    if not separator:
        title, _, description = raw.partition("\n")
    try:
        item = await rules.raise_item(chat_actor(ctx), title, description)
    except Refused as refusal:
        ctx.reply(refusal.message)
        return
    ctx.reply(texts.raised(item))


@command("交办", "/assign", usage="交办 #12 牵头单位 [配合 单位…] 截止 12月10日", summary="交办事项并通知牵头单位")
async def assign(ctx: CommandContext) -> None:
    found = await _item(ctx, "交办")
    if found is None:
        return
    item, _ = found
    actor = chat_actor(ctx)
    try:
        rules.require_assignable(actor, item)
    except Refused as refusal:
        ctx.reply(refusal.message)
        return
    parts = split_assignment(item_reference(ctx.args)[1])
    if parts is None:
        ctx.reply(texts.ASSIGN_USAGE)
        ctx.audit("交办", ctx.args, "invalid")
        return
    lead = await _unit(ctx, parts.lead, "交办")
    if lead is None:
        return
    supporting: list[Unit] = []
    for name in parts.supporting:
        unit = await _unit(ctx, name, "交办")
        if unit is None:
            return
        supporting.append(unit)
    try:
        due = parse_date(parts.due_text, actor.today)
    except ValueError as exc:
        ctx.reply(str(exc))
        ctx.audit("交办", ctx.args, "invalid_date")
        return
    await _answer(ctx, rules.assign(actor, item, lead, supporting, due))


@command("签收", "/sign", usage="签收 #12", summary="牵头单位联络员签收交办事项", office_only=False)
async def sign(ctx: CommandContext) -> None:
    found = await _item(ctx, "签收")
    if found is not None:
        await _answer(ctx, rules.sign(chat_actor(ctx), found[0]))


@command("进展", "/progress", usage="进展 #12 内容", summary="报告事项办理进展", office_only=False)
async def progress(ctx: CommandContext) -> None:
    found = await _item(ctx, "进展")
    if found is not None:
        usage = texts.reason_usage("进展", "进展内容", "已召开专题协调会")
        await _answer(ctx, rules.progress(chat_actor(ctx), *found, usage=usage))


@command("办结", "/done", usage="办结 #12 办理结果", summary="牵头单位报告事项已办结", office_only=False)
async def done(ctx: CommandContext) -> None:
    found = await _item(ctx, "办结")
    if found is not None:
        usage = texts.reason_usage("办结", "办理结果", "用地手续已批复")
        await _answer(ctx, rules.done(chat_actor(ctx), *found, usage=usage))


@command("销号", "/close", usage="销号 #12", summary="审核同意，事项销号办结")
async def close(ctx: CommandContext) -> None:
    found = await _item(ctx, "销号")
    if found is not None:
        await _answer(ctx, rules.close(chat_actor(ctx), *found))


@command("退回", "/reject", usage="退回 #12 原因", summary="办结报告未通过审核，退回继续办理")
async def reject(ctx: CommandContext) -> None:
    found = await _item(ctx, "退回")
    if found is not None:
        usage = texts.reason_usage("退回", "退回原因", "请补充企业反馈意见")
        await _answer(ctx, rules.reject(chat_actor(ctx), *found, usage=usage))


@command("延期", "/extend", usage="延期 #12 新日期 原因", summary="调整事项截止日期（原因留存）")
async def extend(ctx: CommandContext) -> None:
    found = await _item(ctx, "延期")
    if found is None:
        return
    item, rest = found
    actor = chat_actor(ctx)
    try:
        rules.require_extendable(actor, item)
        due, reason = split_date(rest, actor.today)
    except Refused as refusal:
        ctx.reply(refusal.message)
        return
    except ValueError as exc:
        ctx.reply(f"{exc}\n{texts.EXTEND_USAGE}")
        ctx.audit("延期", ctx.args, "invalid_date")
        return
    await _answer(ctx, rules.extend(actor, item, due, reason, usage=texts.EXTEND_USAGE))


@command("中止", "/stop", usage="中止 #12 原因", summary="中止办理事项（原因留存）")
async def stop(ctx: CommandContext) -> None:
    found = await _item(ctx, "中止")
    if found is not None:
        usage = texts.reason_usage("中止", "中止原因", "问题已由企业自行解决")
        await _answer(ctx, rules.stop(chat_actor(ctx), *found, usage=usage))


@command(
    "事项",
    "/items",
    usage="事项 [#12|单位|逾期]",
    summary="查看督办事项",
    office_only=False,
)
async def show_items(ctx: CommandContext) -> None:
    calendar = ctx.policy.schedules.calendar()
    tz = ctx.policy.tz
    args = ctx.args.strip()
    number, _ = item_reference(args)
    if number is not None:
        item = await ledger.by_number(ctx.session, number)
        if item is None:
            ctx.reply(texts.unknown_item(number))
            ctx.audit("事项", args, "unknown_item")
            return
        events = await ledger.events_of(ctx.session, item.id)
        ctx.reply(texts.item_detail(item, ledger.item_light(item, calendar, ctx.now, tz), events, tz))
        ctx.audit("事项", f"#{number}")
        return
    if args in ("逾期", "红灯", "overdue"):
        standing = [s for s in await ledger.by_standing(ctx.session, calendar, ctx.now, tz) if s.days_overdue]
        ctx.reply(texts.item_list("逾期事项", [texts.standing_line(s) for s in standing]))
        ctx.audit("事项", args)
        return
    if args:
        unit = await _unit(ctx, args, "事项")
        if unit is None:
            return
        items = await ledger.items_of_unit(ctx.session, unit.id)
        heading = f"{quote(unit.name)}牵头或配合的事项"
    else:
        items = await ledger.open_items(ctx.session)
        heading = "在办督办事项"
    lit = {s.item.id: s for s in ledger.rank(map(ledger.ItemRow.of, items), calendar, ctx.now, tz)}
    order = sorted(items, key=lambda i: (lit[i.id].light.rank if i.id in lit else 3, i.number))
    lines = [texts.standing_line(lit[i.id]) if i.id in lit else texts.item_line(i, None) for i in order]
    ctx.reply(texts.item_list(heading, lines))
    ctx.audit("事项", args)
