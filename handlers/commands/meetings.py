"""``会议``: a meeting notice whose 回执 (attendees) is collected as a round closing the working day before.

- ``会议 周会商 12月9日 15:00 地点 市政府1号楼 参会 各成员单位分管负责同志`` — a preview and a code; ``确认 CODE``
  posts it numbered (``会议#8``): each unit answers ``#8 参会人员：…``; the round reminder chases units without
  a 回执 on the working day before, the meeting reminder reminds everyone that morning, and ``统计 #8`` /
  ``导出`` work as for any collection;
- ``会议`` alone — the coming meetings, posted or declared in ``[[schedules.meetings]]``, and their 回执 standing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from handlers.commands import announce
from handlers.commands.item_args import split_date
from handlers.commands.registry import CommandContext, command
from schedules.dates import moment_label
from schedules.kinds import meeting_notice
from schedules.meetings import details, notice_body, notice_message, planned_meetings, receipt_due
from storage import meetings, rounds
from storage.models import PendingAction
from storage.outbound import enqueue_to_group, quote

USAGE = "会议命令用法：会议 名称 12月9日 15:00 地点 … 参会 …（单发“会议”查看近期会议及回执情况）"
LISTED_DAYS = 31  # how far ahead ``会议`` lists the meetings
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
    place_found, who_found = _PLACE.search(rest), _WHO.search(rest)
    place = place_found["place"].strip()[:200] if place_found else ""
    who = who_found["who"].strip()[:200] if who_found else ""
    due = receipt_due(ctx.policy.schedules.calendar(), starts)
    if due <= ctx.now:
        ctx.reply(f"会议时间{moment_label(starts, ctx.policy.tz)}过近或已过，来不及收集回执，请核对后重新发送。")
        ctx.audit("会议", ctx.args[:100], "past_due")
        return
    code = await announce.new_code(ctx.session)
    payload = {
        "title": title,
        "starts": starts.astimezone(UTC).isoformat(),
        "place": place,
        "attendees": who,
        "due": due.astimezone(UTC).isoformat(),
    }
    ctx.session.add(
        PendingAction(
            code=code,
            kind=meetings.KIND,
            payload=payload,
            person_id=ctx.person.id,
            created_at=ctx.now,
            expires_at=ctx.now + timedelta(minutes=announce.VALID_MINUTES),
        )
    )
    body = notice_body(title, details(starts, place, who, ctx.policy.tz), due, None, ctx.policy.tz)
    ctx.reply(f"**会议通知预览**\n{body}\n请在{announce.VALID_MINUTES}分钟内回复“确认 {code}”发送；未确认则不发送。")
    ctx.audit("会议", f"确认码 {code}：{title[:100]}", "pending")


async def post_meeting(ctx: CommandContext, pending: PendingAction) -> None:
    payload = pending.payload
    starts = datetime.fromisoformat(str(payload["starts"]))
    place, who = str(payload.get("place") or ""), str(payload.get("attendees") or "")
    lines = details(starts, place, who, ctx.policy.tz)
    posted = await meetings.open_meeting(
        ctx.session,
        title=str(payload["title"]),
        details=lines,
        starts_at=starts,
        place=place,
        attendees=who,
        deadline=datetime.fromisoformat(str(payload["due"])),
        code=pending.code,
        now=ctx.now,
        created_by=pending.person_id,
    )
    round_ = posted.round
    message = notice_message(round_.title, notice_body(round_.title, lines, round_.deadline, round_.id, ctx.policy.tz))
    groups = await announce.target_groups(ctx.session, None)
    for group in groups:
        key = f"round:{round_.id}:{group.name}"
        enqueue_to_group(ctx.session, group, message, origin=f"round:{round_.id}", dedupe_key=key)
    ctx.reply(f"已确认，会议通知#{round_.id}已排队发送至{len(groups)}个群：{'、'.join(g.name for g in groups)}。")
    ctx.audit("确认", f"{pending.code}：会议#{round_.id}，{len(groups)}个群")


announce.CONFIRMERS[meetings.KIND] = post_meeting


@dataclass(frozen=True)
class _Line:
    starts: datetime
    text: str


async def _listing(ctx: CommandContext) -> None:
    """Posted meetings not yet begun with their 回执 standing, and the declared ones not posted yet."""
    tz = ctx.policy.tz
    horizon = ctx.now + timedelta(days=LISTED_DAYS)
    lines: list[_Line] = []
    posted = await meetings.meetings_between(ctx.session, ctx.now, horizon)
    for held in posted:
        standing = await rounds.round_standing(ctx.session, held.round)
        when = moment_label(held.meeting.starts_at, tz)
        lines.append(
            _Line(
                held.meeting.starts_at,
                f"- #{held.round.id} {quote(held.round.title, max_chars=30)}（{when}）"
                f"：已回执{len(standing.answered)}家，未回执{len(standing.missing)}家",
            )
        )
    settings = ctx.policy.schedules
    taken = {(held.meeting.series, held.meeting.nominal) for held in posted}
    today = ctx.now.astimezone(tz).date()
    declared = planned_meetings(
        settings.meetings,
        settings.calendar(),
        tz,
        settings.job(meeting_notice.JOB).at,
        today,
        horizon.astimezone(tz).date(),
    )
    for planned in declared:
        if planned.starts <= ctx.now or (planned.series.title, planned.nominal) in taken:
            continue
        if await meetings.posted_nominals(ctx.session, planned.series.title) >= {planned.nominal}:
            continue
        notice = (
            f"通知将于{moment_label(planned.notice_at, tz)}发布"
            if settings.job(meeting_notice.JOB).enabled
            else "自动通知未开启"
        )
        lines.append(
            _Line(
                planned.starts,
                f"- {quote(planned.series.title, max_chars=30)}（{moment_label(planned.starts, tz)}）：例会，{notice}",
            )
        )
    if not lines:
        ctx.reply("近期没有会议通知。发布会议：" + USAGE.removeprefix("会议命令用法："))
        ctx.audit("会议", "列表：无")
        return
    lines.sort(key=lambda line: line.starts)
    ctx.reply("\n".join(["**近期会议及回执情况**", *(line.text for line in lines)]))
    ctx.audit("会议", f"列表：{len(lines)}个")
