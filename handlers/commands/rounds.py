"""The office's rounds: open a collection (征集) by chat, and check, extend or close any round.

- ``征集 标题 截止 3月24日 [单位 发改委、财政厅] [@群名] [字段 姓名、职务、手机] 说明`` — a preview and a code,
  exactly like ``通知``; ``确认 CODE`` posts it, numbered (``征集#7``), to the groups. ``单位`` lists the units asked
  (only those are asked, counted, reminded and exported); without it every member unit is asked, or with ``@群名``
  the units whose liaisons sit in that group;
- ``统计 #7`` — who has answered and who has not (``统计`` alone stays the monthly report);
- ``截止 #7 3月28日`` — a new deadline; ``结束 #7`` — close it (later answers are kept and marked late).

The monthly report is a round too (``月报#N``, one per period, :mod:`storage.monthly_round`): ``统计 #N`` shows its
standing as ``统计 期别`` does, ``截止 #N`` moves that period's deadline (reminders, late marks and the overdue
notice follow it), ``结束 #N`` closes it (later reports are kept and marked late).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update

from handlers import texts
from handlers.commands import announce
from handlers.commands.item_args import item_reference, split_date
from handlers.commands.registry import CommandContext, command
from schedules.dates import day_label, moment_label
from storage import rounds
from storage.models import Group, PendingAction, Round, Unit
from storage.monthly_round import monthly_round, period_of
from storage.outbound import OutboundMessage, addresses, enqueue_to_group, office_links, quote
from storage.periods import Period
from storage.standing import period_standing

KIND = "collection"
DEADLINE_AT = time(18, 0)  # a deadline given as a day means the close of that working day
USAGE = (
    "征集命令用法：征集 标题 截止 3月24日 [单位 发改委、财政厅] [@群名] [字段 姓名、职务、手机] 说明\n"
    "例如：征集 工作专班联系人 截止 3月24日 字段 姓名、职务、手机 请各成员单位确定一名工作专班联系人。\n"
    "写明“单位 …”时只向所列单位征集；否则向全部成员单位（写明@群名时为该群的成员单位）征集。"
)
_FIELDS = re.compile(r"^字段[\s:：]*(?P<names>[^\s]+)\s*")
_UNITS = re.compile(r"^单位(?:[\s:：]+)(?P<names>[^\s]+)\s*")
_FIELD_SEPARATORS = re.compile(r"[、,，/;；]+")


def _deadline(day: date, ctx: CommandContext, at: time = DEADLINE_AT) -> datetime:
    return datetime.combine(day, at, tzinfo=ctx.policy.tz).astimezone(UTC)


def round_name(round_: Round) -> str:
    """``征集#7“联系人”``, ``月报#3“2026年10月工作进展”`` as the office's replies name a round."""
    return f"{rounds.number_label(round_)}“{quote(round_.title, max_chars=40)}”"


async def monthly_status(ctx: CommandContext, period: Period) -> None:
    """The period's standing under its monthly round's number: ``统计``, ``统计 10月`` and ``统计 #N`` alike."""
    round_ = await monthly_round(ctx.session, ctx.policy.deadline, period)
    standing = await period_standing(ctx.session, period)
    ctx.reply(texts.standing_summary(standing, round_, ctx.policy.tz, ctx.now))
    ctx.audit("统计", f"{period}：按时{len(standing.on_time)}，逾期{len(standing.late)}，未报{len(standing.missing)}")


async def _groups(ctx: CommandContext, name: str) -> list[Group]:
    return await announce.target_groups(ctx.session, name or None)


@command(
    "征集",
    "/collect",
    usage="征集 标题 截止 日期 [单位 …] [@群名] [字段 …] 说明",
    summary="向成员单位征集材料或信息，需确认后发出",
)
async def collect(ctx: CommandContext) -> None:
    title, separator, rest = ctx.raw_args.partition("截止")
    title = title.strip(" ：:，,")
    if not separator or not title:
        ctx.reply(USAGE)
        ctx.audit("征集", ctx.args[:100], "usage")
        return
    today = ctx.now.astimezone(ctx.policy.tz).date()
    try:
        due, rest = split_date(rest.strip(" ：:"), today)
    except ValueError as problem:
        ctx.reply(f"{problem}\n{USAGE}")
        ctx.audit("征集", ctx.args[:100], "invalid")
        return
    if due < today:
        ctx.reply(f"截止日期{day_label(due, year=True)}已过，请重新确定截止日期后再发起征集。")
        ctx.audit("征集", ctx.args[:100], "past_due")
        return
    known = list(await ctx.session.scalars(select(Group.name).where(Group.active.is_(True))))
    group, fields, unit_names, rest = _clauses(rest, known)
    choice = await rounds.choose_units(ctx.session, unit_names)
    if not choice.clear:
        ctx.reply(await unknown_units(ctx, choice))
        ctx.audit("征集", ctx.args[:100], "unknown_unit")
        return
    groups = await _groups(ctx, group or "")
    if not groups:
        available = [g.name for g in await _groups(ctx, "")]
        ctx.reply(f"未找到名为“{group}”的群。可发送的群：{'、'.join(available) or '暂无'}。")
        ctx.audit("征集", ctx.args[:100], "unknown_group")
        return
    instructions = rest.strip()
    info = ctx.policy.schedules.calendar().explain(due)
    warning = "" if info.workday else f"\n提示：{day_label(due)}为{info.reason}，请确认截止日期。"
    code = await announce.new_code(ctx.session)
    payload = {
        "title": title,
        "instructions": instructions,
        "fields": fields,
        "group": group or "",
        "units": [unit.id for unit in choice.units],
        "due": due.isoformat(),
    }
    ctx.session.add(
        PendingAction(
            code=code,
            kind=KIND,
            payload=payload,
            person_id=ctx.person.id,
            created_at=ctx.now,
            expires_at=ctx.now + timedelta(minutes=announce.VALID_MINUTES),
        )
    )
    asked = [unit.name for unit in choice.units]
    body = request_body(title, instructions, fields, _deadline(due, ctx), None, ctx, asked)
    names = "、".join(g.name for g in groups)
    ctx.reply(
        f"**征集预览**（发送至群“{names}”）\n{body}{warning}\n"
        f"请在{announce.VALID_MINUTES}分钟内回复“确认 {code}”发送；未确认则不发送。"
    )
    ctx.audit("征集", f"确认码 {code}：{title[:100]}，截止{due.isoformat()}", "pending")


def _clauses(rest: str, known_groups: list[str]) -> tuple[str | None, list[str], list[str], str]:
    """After the deadline, in any order: ``@群名``, ``字段 …`` and ``单位 …``; then the instructions.

    Returns (group, fields, unit names, instructions).
    """
    group: str | None = None
    fields: list[str] = []
    units: list[str] = []
    rest = rest.strip()
    while rest:
        if group is None and rest.startswith(("@", "＠")):
            group, after = announce.split_target(rest, known_groups)
            if group is None:
                break
            rest = after
        elif not fields and (found := _FIELDS.match(rest)):
            fields = [name for name in _FIELD_SEPARATORS.split(found["names"]) if name]
            rest = rest[found.end() :]
        elif not units and (found := _UNITS.match(rest)):
            units = [name for name in _FIELD_SEPARATORS.split(found["names"]) if name]
            rest = rest[found.end() :]
        else:
            break
        rest = rest.strip()
    return group, fields, units, rest


async def unknown_units(ctx: CommandContext, choice: rounds.UnitChoice) -> str:
    """The names that are no unit (or several), and the units on the roster; nothing was opened."""
    lines = ["征集未发起：以下单位名称需核对。"]
    if choice.unknown:
        lines.append("未找到：" + "、".join(f"“{quote(name)}”" for name in choice.unknown))
    for name, candidates in choice.ambiguous.items():
        lines.append(f"“{quote(name)}”可指{len(candidates)}个单位：{'、'.join(quote(c) for c in candidates)}")
    listed = await ctx.session.scalars(select(Unit.name).where(Unit.active.is_(True)).order_by(Unit.id))
    lines.append("在册成员单位：" + ("、".join(quote(name) for name in listed) or "暂无"))
    lines.append("请写出单位全称或无歧义的简称后重新发送。")
    return "\n".join(lines)


def request_body(
    title: str,
    instructions: str,
    fields: list[str],
    deadline: datetime,
    number: int | None,
    ctx: CommandContext,
    units: list[str] | None = None,
) -> str:
    """The request as posted (and previewed): what, by when, who answers (``units``: the units listed, if any)."""
    marker = f"#{number}" if number is not None else "#编号"
    lines = [f"**征集{'#' + str(number) if number is not None else ''}：{title}**"]
    if instructions:
        lines.append(instructions)
    lines.append(f"截止时间：{moment_label(deadline, ctx.policy.tz)}")
    example = " ".join(f"{name}：…" for name in fields) if fields else "答复内容"
    if units:
        listed = "、".join(quote(name) for name in units)
        lines.append(f"征集对象：{listed}（共{len(units)}家）。请以上单位联络员回复“{marker} {example}”。")
    else:
        lines.append(f"请各成员单位联络员回复“{marker} {example}”。")
    return "\n".join(lines)


async def post_collection(ctx: CommandContext, pending: PendingAction) -> None:
    """``确认 CODE`` of a collection: the round is created, numbered and posted to its groups."""
    payload = pending.payload
    groups = await _groups(ctx, str(payload.get("group") or ""))
    round_ = Round(
        kind=KIND,
        title=str(payload["title"]),
        instructions=str(payload.get("instructions") or ""),
        fields=list(payload.get("fields") or []),
        group=str(payload.get("group") or ""),
        units=[int(unit_id) for unit_id in payload.get("units") or []],
        deadline=_deadline(date.fromisoformat(str(payload["due"])), ctx),
        code=pending.code,
        created_by=pending.person_id,
        created_at=ctx.now,
    )
    ctx.session.add(round_)
    await ctx.session.flush()
    asked = await _unit_names(ctx, list(round_.units))
    body = request_body(round_.title, round_.instructions, list(round_.fields), round_.deadline, round_.id, ctx, asked)
    message = OutboundMessage(  # the office's own words: its http/https links stay working links
        body=office_links(body), title=f"征集#{round_.id}：{round_.title}", links=addresses(body)
    )
    for group in groups:
        enqueue_to_group(
            ctx.session, group, message, origin=f"round:{round_.id}", dedupe_key=f"round:{round_.id}:{group.name}"
        )
    ctx.reply(f"已确认，征集#{round_.id}已排队发送至{len(groups)}个群：{'、'.join(g.name for g in groups)}。")
    ctx.audit("确认", f"{pending.code}：征集#{round_.id}，{len(groups)}个群")


async def _unit_names(ctx: CommandContext, unit_ids: list[int]) -> list[str]:
    if not unit_ids:
        return []
    return list(await ctx.session.scalars(select(Unit.name).where(Unit.id.in_(unit_ids)).order_by(Unit.id)))


announce.CONFIRMERS[KIND] = post_collection


async def _round(ctx: CommandContext, word: str) -> tuple[Round, str] | None:
    number, rest = item_reference(ctx.args)
    round_ = await ctx.session.get(Round, number) if number is not None else None
    if round_ is None:
        listing = "、".join(f"#{r.id}“{quote(r.title, max_chars=30)}”" for r in await rounds.open_rounds(ctx.session))
        shown = f"#{number}" if number is not None else "编号"
        ctx.reply(f"未找到征集{shown}。当前正在征集：{listing or '暂无'}。用法：{word} #编号 …")
        ctx.audit(word, ctx.args[:100], "not_found")
        return None
    return round_, rest


async def round_status(ctx: CommandContext) -> None:
    """``统计 #N``: the round's answered and missing units, and answers the office should check."""
    found = await _round(ctx, "统计")
    if found is None:
        return
    round_ = found[0]
    if round_.kind == rounds.MONTHLY:
        await monthly_status(ctx, period_of(round_))
        return
    standing = await rounds.round_standing(ctx.session, round_)
    state = "已结束" if round_.state == rounds.CLOSED else f"截止{moment_label(round_.deadline, ctx.policy.tz)}"
    lines = [f"**{round_name(round_)}**（{state}）"]
    lines.append(f"已答复{len(standing.answered)}家，未答复{len(standing.missing)}家（共{len(standing.units)}家）。")
    late = [unit.unit_name for unit in standing.answered if unit.late]
    if standing.missing:
        lines.append("未答复：" + "、".join(quote(unit.unit_name) for unit in standing.missing))
    if late:
        lines.append("逾期答复：" + "、".join(quote(name) for name in late))
    if standing.unparsed:
        lines.append("需人工核对（未能逐项识别）：" + "、".join(quote(unit.unit_name) for unit in standing.unparsed))
    ctx.reply("\n".join(lines))
    ctx.audit("统计", f"#{round_.id}：已答复{len(standing.answered)}，未答复{len(standing.missing)}")


@command("截止", "/rounddeadline", usage="截止 #编号 日期", summary="调整征集或月报的截止日期")
async def extend(ctx: CommandContext) -> None:
    found = await _round(ctx, "截止")
    if found is None:
        return
    round_, rest = found
    today = ctx.now.astimezone(ctx.policy.tz).date()
    try:
        due, _ = split_date(rest, today)
    except ValueError as problem:
        ctx.reply(f"{problem}用法：截止 #{round_.id} 3月28日")
        ctx.audit("截止", ctx.args[:100], "invalid")
        return
    if due < today:
        ctx.reply(f"新的截止日期{day_label(due, year=True)}已过，截止时间未调整。")
        ctx.audit("截止", ctx.args[:100], "past_due")
        return
    monthly = round_.kind == rounds.MONTHLY
    deadline = _deadline(due, ctx, ctx.policy.deadline.at if monthly else DEADLINE_AT)
    remarked = await rounds.remark_for_deadline(ctx.session, round_, deadline)
    round_.deadline = deadline
    round_.extended_at = ctx.now
    round_.state = rounds.OPEN
    round_.closed_at = None
    answers = "报送" if monthly else "答复"
    counts = "、".join(
        f"{count}份改记为{mark}" for count, mark in ((remarked.on_time, "按时"), (remarked.late, "逾期")) if count
    )
    also = f"按新的截止时间，此前收到的{answers}中{counts}。" if counts else ""
    ctx.reply(f"{rounds.number_label(round_)}的截止时间已调整为{moment_label(deadline, ctx.policy.tz)}。{also}")
    ctx.audit("截止", f"#{round_.id}：{due.isoformat()}" + (f"，{counts}" if counts else ""))


@command("结束", "/endround", usage="结束 #编号", summary="结束征集或月报（此后的答复仍保存并标注逾期）")
async def close(ctx: CommandContext) -> None:
    found = await _round(ctx, "结束")
    if found is None:
        return
    round_ = found[0]
    closed = await ctx.session.execute(
        update(Round)
        .where(Round.id == round_.id, Round.state == rounds.OPEN)
        .values(state=rounds.CLOSED, closed_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    await ctx.session.refresh(round_)
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        ctx.reply(f"{rounds.number_label(round_)}此前已结束。")
        ctx.audit("结束", f"#{round_.id}", "already_closed")
        return
    standing = await rounds.round_standing(ctx.session, round_)
    answer = "报送" if round_.kind == rounds.MONTHLY else "答复"
    ctx.reply(
        f"{round_name(round_)}已结束：已{answer}{len(standing.answered)}家，未{answer}{len(standing.missing)}家。"
        f"此后收到的{answer}仍会保存并标注为逾期。"
    )
    ctx.audit("结束", f"#{round_.id}")
