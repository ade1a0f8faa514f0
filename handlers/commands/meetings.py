"""``会议``: a meeting notice whose 回执 (attendees) is collected as a round closing the working day before.

- ``会议 周会商 12月9日 15:00 地点 市政府1号楼 参会 各成员单位分管负责同志`` — a preview and a code; ``确认 CODE``
  posts it numbered (``会议#8``): each unit answers ``#8 参会人员：…``; the round reminder chases units without
  a 回执, and ``统计 #8`` / ``导出`` work as for any collection;
- ``会议`` alone — the coming meetings and their 回执 standing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from handlers.commands import announce
from handlers.commands.item_args import split_date
from handlers.commands.registry import CommandContext, command
from schedules.dates import moment_label
from storage import rounds
from storage.models import PendingAction, Round
from storage.outbound import OutboundMessage, addresses, enqueue_to_group, office_links, quote

KIND = "meeting"
FIELDS = ["参会人员"]
RECEIPT_AT = time(18, 0)  # 回执 are due by the close of the working day before the meeting
USAGE = "会议命令用法：会议 名称 12月9日 15:00 地点 … 参会 …（单发“会议”查看近期会议及回执情况）"
_TIME = re.compile(r"^(\d{1,2})[:：点](\d{2})?分?\s*")
_PLACE = re.compile(r"地点[\s:：]*(?P<place>.+?)(?=\s*参会|$)")
_WHO = re.compile(r"参会[人员]*[\s:：]*(?P<who>.+)$")


@command(
    "会议", "/meeting", usage="会议 [名称 日期 时间 地点 … 参会 …]", summary="发布会议通知并收集回执；单发查看近期会议"
)
async def meeting(ctx: CommandContext) -> None:
    if not ctx.args:
        await _listing(ctx)
        return
    found = re.search(r"\d{1,4}\s*(?:年|-|/|\.|月)", ctx.raw_args)
    title = ctx.raw_args[: found.start()].strip(" ：:，,") if found else ""
    today = ctx.now.astimezone(ctx.policy.tz).date()
    try:
        if not found or not title:
            raise ValueError("")
        day, rest = split_date(ctx.raw_args[found.start() :], today)
    except ValueError:
        ctx.reply(USAGE)
        ctx.audit("会议", ctx.args[:100], "usage")
        return
    clock = _TIME.match(rest)
    at_time = time(int(clock[1]), int(clock[2] or 0)) if clock and int(clock[1]) < 24 else time(9, 0)
    rest = rest[clock.end() :] if clock else rest
    starts = datetime.combine(day, at_time, tzinfo=ctx.policy.tz)
    place, who = _PLACE.search(rest), _WHO.search(rest)
    calendar = ctx.policy.schedules.calendar()
    due = datetime.combine(calendar.previous_workday(day), RECEIPT_AT, tzinfo=ctx.policy.tz)
    due = min(due, starts - timedelta(hours=1))
    if due <= ctx.now:
        ctx.reply(f"会议时间{moment_label(starts, ctx.policy.tz)}过近或已过，来不及收集回执，请核对后重新发送。")
        ctx.audit("会议", ctx.args[:100], "past_due")
        return
    details = [f"时间：{moment_label(starts, ctx.policy.tz)}"]
    details += [f"地点：{place['place'].strip()}"] if place else []
    details += [f"参会：{who['who'].strip()}"] if who else []
    code = await announce.new_code(ctx.session)
    payload = {"title": title, "details": details, "due": due.astimezone(UTC).isoformat()}
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
    body = _body(title, details, due, None, ctx)
    ctx.reply(f"**会议通知预览**\n{body}\n请在{announce.VALID_MINUTES}分钟内回复“确认 {code}”发送；未确认则不发送。")
    ctx.audit("会议", f"确认码 {code}：{title[:100]}", "pending")


def _body(title: str, details: list[str], due: datetime, number: int | None, ctx: CommandContext) -> str:
    marker = f"#{number}" if number is not None else "#编号"
    lines = [f"**会议通知{'#' + str(number) if number is not None else ''}：{title}**", *details]
    lines.append(f"请各成员单位联络员于{moment_label(due, ctx.policy.tz)}前回复回执“{marker} 参会人员：姓名、职务”。")
    return "\n".join(lines)


async def post_meeting(ctx: CommandContext, pending: PendingAction) -> None:
    payload = pending.payload
    details = [str(line) for line in payload.get("details") or []]
    round_ = Round(
        kind=KIND,
        title=str(payload["title"]),
        instructions="\n".join(details),
        fields=FIELDS,
        deadline=datetime.fromisoformat(str(payload["due"])),
        code=pending.code,
        created_by=pending.person_id,
        created_at=ctx.now,
    )
    ctx.session.add(round_)
    await ctx.session.flush()
    body = _body(round_.title, details, round_.deadline, round_.id, ctx)
    message = OutboundMessage(body=office_links(body), title=f"会议通知：{round_.title}", links=addresses(body))
    groups = await announce.target_groups(ctx.session, None)
    for group in groups:
        key = f"round:{round_.id}:{group.name}"
        enqueue_to_group(ctx.session, group, message, origin=f"round:{round_.id}", dedupe_key=key)
    ctx.reply(f"已确认，会议通知#{round_.id}已排队发送至{len(groups)}个群：{'、'.join(g.name for g in groups)}。")
    ctx.audit("确认", f"{pending.code}：会议#{round_.id}，{len(groups)}个群")


announce.CONFIRMERS[KIND] = post_meeting


async def _listing(ctx: CommandContext) -> None:
    coming = list(
        await ctx.session.scalars(
            select(Round)
            .where(Round.kind == KIND, Round.deadline > ctx.now - timedelta(days=1))
            .order_by(Round.deadline)
        )
    )
    if not coming:
        ctx.reply("近期没有会议通知。发布会议：" + USAGE.removeprefix("会议命令用法："))
        ctx.audit("会议", "列表：无")
        return
    lines = ["**近期会议及回执情况**"]
    for round_ in coming:
        standing = await rounds.round_standing(ctx.session, round_)
        when = round_.instructions.splitlines()[0] if round_.instructions else ""
        lines.append(
            f"- #{round_.id} {quote(round_.title, max_chars=30)}（{when}）：已回执{len(standing.answered)}家，"
            f"未回执{len(standing.missing)}家"
        )
    ctx.reply("\n".join(lines))
    ctx.audit("会议", f"列表：{len(coming)}个")
