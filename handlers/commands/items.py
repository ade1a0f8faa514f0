"""The 督办 ledger in chat: an item goes from raised (待交办) to closed (已办结) by these commands.

Who may do what:

- anyone on the roster raises an item (``问题 标题：内容``) and looks at the ledger (``事项``): the ledger is the
  mechanism's shared list, and the weekly briefing shows it to every member group anyway;
- the office assigns (``交办``), closes (``销号``), sends back (``退回``), moves the due date (``延期``) and
  stops (``中止``) items;
- the lead unit's liaisons (A角、B角) sign for (``签收``) and report done (``办结``); they, the supporting units'
  liaisons and the office may add progress (``进展``).

Every refusal is answered courteously and audited; every step is kept in the item's timeline (:class:`ItemEvent`).
Units hear of what concerns them in the groups where their liaisons sit, with those liaisons @-mentioned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from handlers import item_texts as texts
from handlers.commands.item_args import item_reference, parse_date, split_assignment, split_date
from handlers.commands.registry import CommandContext, command
from handlers.identity import strip_mention
from handlers.reports import file_report
from handlers.texts import command_word_as_report
from storage import items as ledger
from storage.models import Group, GroupMember, Item, ItemState, Person, Role, Unit
from storage.outbound import Mention, OutboundMessage, enqueue_to_group, quote

TITLE_MAX = 200
REPORT_MIN_CHARS = 40  # as in handlers.dispatch: shorter one-liners are attempts at the command
ORIGIN = "item"


def _is_office(person: Person) -> bool:
    return person.role is Role.OFFICE


def _is_liaison_of(person: Person, unit_id: int | None) -> bool:
    return person.role.is_liaison and unit_id is not None and person.unit_id == unit_id


def _today(ctx: CommandContext) -> date:
    return ctx.now.astimezone(ctx.policy.tz).date()


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
    await file_report(ctx.session, ctx.inbox, ctx.person, unit, text, ctx.policy, note=command_word_as_report(word))
    ctx.audit(word, "未写明事项编号，按工作进展登记", "filed_as_report")
    return True


def _refuse_state(ctx: CommandContext, item: Item, word: str, allowed: Sequence[ItemState]) -> bool:
    if item.state in allowed:
        return False
    ctx.reply(texts.wrong_state(item, word, allowed))
    ctx.audit(word, f"#{item.number}：{item.state.label}", "wrong_state")
    return True


def _refuse_office(ctx: CommandContext, word: str) -> bool:
    if _is_office(ctx.person):
        return False
    ctx.reply(texts.office_only(word, ctx.policy.office_name))
    ctx.audit(word, ctx.args, "refused")
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


def _due_check(ctx: CommandContext, due: date, word: str) -> str | None:
    """``None`` (answered, audited) for a date in the past; else a warning for a non-working day, or ``""``."""
    today = _today(ctx)
    if due < today:
        ctx.reply(texts.past_due(due, today))
        ctx.audit(word, ctx.args, "past_due")
        return None
    info = ctx.policy.schedules.calendar().explain(due)
    return "" if info.workday else texts.non_working_due(due, info.reason)


async def tell_units(
    ctx: CommandContext, item: Item, body: str, *, lead: bool = True, supporting: bool = False, follow: str = ""
) -> int:
    """Tell the lead (and supporting) units' liaisons in every group where they sit, @-mentioning them.

    ``follow`` is added for the supporting units when both are told. Returns how many lead-unit liaisons
    were reached (0: none of them sits in an active group)."""
    unit_ids = ([item.lead_unit_id] if lead and item.lead_unit_id else []) + (
        [unit.id for unit in item.supporting_units] if supporting else []
    )
    liaisons = await ledger.liaisons_of(ctx.session, unit_ids)
    if not liaisons:
        return 0
    seats = await ctx.session.execute(
        select(GroupMember.group_id, GroupMember.person_id).where(
            GroupMember.person_id.in_([person.id for person in liaisons])
        )
    )
    by_group: dict[int, set[int]] = {}
    for group_id, person_id in seats:
        by_group.setdefault(group_id, set()).add(person_id)
    groups = await ctx.session.scalars(
        select(Group).where(Group.id.in_(by_group), Group.active.is_(True)).order_by(Group.id)
    )
    reached: set[int] = set()
    for group in groups:
        present = [person for person in liaisons if person.id in by_group[group.id]]
        present.sort(key=lambda person: person.unit_id != item.lead_unit_id)  # the lead unit's liaisons first
        has_support = any(person.unit_id != item.lead_unit_id for person in present)
        text = body + (f"\n{follow}" if follow and has_support else "")
        message = OutboundMessage(body=text, mentions=[Mention.of(person) for person in present])
        enqueue_to_group(ctx.session, group, message, origin=ORIGIN)
        reached.update(person.id for person in present if person.unit_id == item.lead_unit_id)
    return len(reached)


async def tell_office(ctx: CommandContext, body: str) -> None:
    offices = await ctx.session.scalars(select(Group).where(Group.is_office.is_(True), Group.active.is_(True)))
    for group in offices:
        enqueue_to_group(ctx.session, group, OutboundMessage(body=body), origin=ORIGIN)


@command("问题", "/raise", usage="问题 标题：内容", summary="提出需要协调督办的问题", office_only=False)
async def raise_item(ctx: CommandContext) -> None:
    raw = ctx.raw_args.strip()
    title, separator, description = raw.partition("：")
    if not separator:
        title, separator, description = raw.partition(":")
    if not separator:
        title, _, description = raw.partition("\n")
    title, description = title.strip(), description.strip()
    if not title:
        ctx.reply(texts.RAISE_USAGE)
        ctx.audit("问题", ctx.args, "invalid")
        return
    if len(title) > TITLE_MAX:
        title, description = title[:TITLE_MAX], f"{title}\n{description}".strip()
    item = Item(
        number=await ledger.next_number(ctx.session),
        title=title,
        description=description,
        raised_by_id=ctx.person.id,
        raised_by_office=_is_office(ctx.person),
        state=ItemState.RAISED,
        created_at=ctx.now,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    ledger.add_event(
        ctx.session, item, "raise", person=ctx.person, at=ctx.now, text=description or title, inbox_id=ctx.inbox.id
    )
    ctx.reply(texts.raised(item))
    if not _is_office(ctx.person):
        unit = ctx.person.unit.name if ctx.person.unit else None
        await tell_office(ctx, texts.raised_notice(item, ctx.person.name, unit))
    ctx.audit("问题", f"#{item.number} {title[:100]}")


@command("交办", "/assign", usage="交办 #12 牵头单位 [配合 单位…] 截止 12月10日", summary="交办事项并通知牵头单位")
async def assign(ctx: CommandContext) -> None:
    found = await _item(ctx, "交办")
    if found is None:
        return
    item, _ = found
    if _refuse_state(ctx, item, "交办", [ItemState.RAISED]):
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
        if unit.id != lead.id and unit not in supporting:
            supporting.append(unit)
    try:
        due = parse_date(parts.due_text, _today(ctx))
    except ValueError as exc:
        ctx.reply(str(exc))
        ctx.audit("交办", ctx.args, "invalid_date")
        return
    warning = _due_check(ctx, due, "交办")
    if warning is None:
        return
    item.lead_unit_id = lead.id
    item.lead_unit = lead
    item.supporting_units = supporting
    item.due = due
    item.state = ItemState.ASSIGNED
    item.assigned_at = ctx.now
    support_names = [unit.name for unit in supporting]
    detail = f"牵头单位：{lead.name}" + (f"；配合单位：{'、'.join(support_names)}" if support_names else "")
    ledger.add_event(
        ctx.session, item, "assign", person=ctx.person, at=ctx.now, text=detail, new_due=due, inbox_id=ctx.inbox.id
    )
    reached = await tell_units(
        ctx,
        item,
        texts.assigned_notice(item, lead.name, support_names, ctx.policy.office_name),
        supporting=True,
        follow=texts.supporting_notice(item, lead.name),
    )
    ctx.reply(texts.assigned(item, lead.name, support_names, warning, told=reached > 0))
    ctx.audit("交办", f"#{item.number} → {lead.name}，截止{due.isoformat()}")


@command("签收", "/sign", usage="签收 #12", summary="牵头单位联络员签收交办事项", office_only=False)
async def sign(ctx: CommandContext) -> None:
    found = await _item(ctx, "签收")
    if found is None:
        return
    item, _ = found
    if not _is_liaison_of(ctx.person, item.lead_unit_id):
        ctx.reply(texts.not_lead_liaison(item, "签收", item.lead_unit.name if item.lead_unit else None))
        ctx.audit("签收", f"#{item.number}", "refused")
        return
    if _refuse_state(ctx, item, "签收", [ItemState.ASSIGNED]):
        return
    item.state = ItemState.IN_PROGRESS
    item.signed_at = ctx.now
    ledger.add_event(ctx.session, item, "sign", person=ctx.person, at=ctx.now, inbox_id=ctx.inbox.id)
    ctx.reply(texts.signed(item))
    ctx.audit("签收", f"#{item.number}")


@command("进展", "/progress", usage="进展 #12 内容", summary="报告事项办理进展", office_only=False)
async def progress(ctx: CommandContext) -> None:
    found = await _item(ctx, "进展")
    if found is None:
        return
    item, text = found
    supporting = {unit.id for unit in item.supporting_units}
    allowed = (
        _is_office(ctx.person)
        or _is_liaison_of(ctx.person, item.lead_unit_id)
        or (ctx.person.role.is_liaison and ctx.person.unit_id in supporting)
    )
    if not allowed:
        ctx.reply(texts.not_lead_liaison(item, "报告进展", item.lead_unit.name if item.lead_unit else None))
        ctx.audit("进展", f"#{item.number}", "refused")
        return
    if _refuse_state(ctx, item, "报告进展", [ItemState.ASSIGNED, ItemState.IN_PROGRESS, ItemState.REVIEW]):
        return
    if not text:
        ctx.reply(texts.reason_usage("进展", "进展内容", "已召开专题协调会"))
        ctx.audit("进展", ctx.args, "invalid")
        return
    ledger.add_event(ctx.session, item, "progress", person=ctx.person, at=ctx.now, text=text, inbox_id=ctx.inbox.id)
    ctx.reply(texts.progress_recorded(item, ctx.now, ctx.policy.tz))
    ctx.audit("进展", f"#{item.number}")


@command("办结", "/done", usage="办结 #12 办理结果", summary="牵头单位报告事项已办结", office_only=False)
async def done(ctx: CommandContext) -> None:
    found = await _item(ctx, "办结")
    if found is None:
        return
    item, text = found
    if not _is_liaison_of(ctx.person, item.lead_unit_id):
        ctx.reply(texts.not_lead_liaison(item, "报告办结", item.lead_unit.name if item.lead_unit else None))
        ctx.audit("办结", f"#{item.number}", "refused")
        return
    if _refuse_state(ctx, item, "报告办结", [ItemState.ASSIGNED, ItemState.IN_PROGRESS]):
        return
    if not text:
        ctx.reply(texts.reason_usage("办结", "办理结果", "用地手续已批复"))
        ctx.audit("办结", ctx.args, "invalid")
        return
    if item.signed_at is None:  # reporting it done signs for it
        item.signed_at = ctx.now
    item.state = ItemState.REVIEW
    ledger.add_event(ctx.session, item, "done", person=ctx.person, at=ctx.now, text=text, inbox_id=ctx.inbox.id)
    ctx.reply(texts.done_reported(item))
    unit = item.lead_unit.name if item.lead_unit else ""
    await tell_office(ctx, texts.done_notice(item, unit, ctx.person.name, text))
    ctx.audit("办结", f"#{item.number}")


@command("销号", "/close", usage="销号 #12", summary="审核同意，事项销号办结")
async def close(ctx: CommandContext) -> None:
    found = await _item(ctx, "销号")
    if found is None or _refuse_office(ctx, "销号"):
        return
    item, text = found
    if _refuse_state(ctx, item, "销号", [ItemState.REVIEW]):
        return
    item.state = ItemState.CLOSED
    item.closed_at = ctx.now
    ledger.add_event(ctx.session, item, "close", person=ctx.person, at=ctx.now, text=text, inbox_id=ctx.inbox.id)
    ctx.reply(texts.closed(item))
    await tell_units(ctx, item, texts.closed_notice(item, ctx.policy.office_name))
    ctx.audit("销号", f"#{item.number}")


@command("退回", "/reject", usage="退回 #12 原因", summary="办结报告未通过审核，退回继续办理")
async def reject(ctx: CommandContext) -> None:
    found = await _item(ctx, "退回")
    if found is None or _refuse_office(ctx, "退回"):
        return
    item, reason = found
    if _refuse_state(ctx, item, "退回", [ItemState.REVIEW]):
        return
    if not reason:
        ctx.reply(texts.reason_usage("退回", "退回原因", "请补充企业反馈意见"))
        ctx.audit("退回", ctx.args, "invalid")
        return
    item.state = ItemState.IN_PROGRESS
    ledger.add_event(ctx.session, item, "reject", person=ctx.person, at=ctx.now, text=reason, inbox_id=ctx.inbox.id)
    ctx.reply(texts.rejected(item))
    await tell_units(ctx, item, texts.rejected_notice(item, ctx.policy.office_name, reason))
    ctx.audit("退回", f"#{item.number}")


@command("延期", "/extend", usage="延期 #12 新日期 原因", summary="调整事项截止日期（原因留存）")
async def extend(ctx: CommandContext) -> None:
    found = await _item(ctx, "延期")
    if found is None or _refuse_office(ctx, "延期"):
        return
    item, rest = found
    if _refuse_state(ctx, item, "延期", [ItemState.ASSIGNED, ItemState.IN_PROGRESS, ItemState.REVIEW]):
        return
    try:
        due, reason = split_date(rest, _today(ctx))
    except ValueError as exc:
        ctx.reply(f"{exc}\n{texts.EXTEND_USAGE}")
        ctx.audit("延期", ctx.args, "invalid_date")
        return
    if not reason:
        ctx.reply(texts.EXTEND_USAGE)
        ctx.audit("延期", ctx.args, "invalid")
        return
    warning = _due_check(ctx, due, "延期")
    if warning is None:
        return
    old = item.due
    item.due = due
    ledger.add_event(
        ctx.session,
        item,
        "extend",
        person=ctx.person,
        at=ctx.now,
        text=reason,
        old_due=old,
        new_due=due,
        inbox_id=ctx.inbox.id,
    )
    ctx.reply(texts.extended(item, old, warning))
    await tell_units(ctx, item, texts.extended_notice(item, ctx.policy.office_name, old, reason))
    ctx.audit("延期", f"#{item.number} {old.isoformat() if old else ''}→{due.isoformat()}")


@command("中止", "/stop", usage="中止 #12 原因", summary="中止办理事项（原因留存）")
async def stop(ctx: CommandContext) -> None:
    found = await _item(ctx, "中止")
    if found is None or _refuse_office(ctx, "中止"):
        return
    item, reason = found
    if _refuse_state(ctx, item, "中止", [s for s in ItemState if s.is_open]):
        return
    if not reason:
        ctx.reply(texts.reason_usage("中止", "中止原因", "问题已由企业自行解决"))
        ctx.audit("中止", ctx.args, "invalid")
        return
    item.state = ItemState.STOPPED
    item.closed_at = ctx.now
    ledger.add_event(ctx.session, item, "stop", person=ctx.person, at=ctx.now, text=reason, inbox_id=ctx.inbox.id)
    ctx.reply(texts.stopped(item))
    if item.lead_unit_id is not None:
        await tell_units(ctx, item, texts.stopped_notice(item, ctx.policy.office_name, reason))
    ctx.audit("中止", f"#{item.number}")


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
