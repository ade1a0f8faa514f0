"""会议提醒: the morning of each meeting, every unit asked is reminded of its time and place, its liaisons
@-mentioned, with the 回执 standing — once per meeting, the claim being on the morning's occurrence.

Every day by default (a meeting posted by chat may fall on any day; a day without a meeting posts nothing).
The same run closes the 回执 rounds of meetings held before that day, so they are chased and listed no more.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schedules.dates import day_label
from schedules.job import HolidayPolicy, Job, JobSettings, every_day
from schedules.occurrences import Occurrence, Planner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings
    from storage import meetings, rounds


class MeetingReminderSettings(JobSettings):
    """``[schedules.meeting-reminder]``: the morning of each meeting, every unit asked is reminded of the time and
    place (every day by default: a meeting posted by chat may fall on any day)."""

    at: time = time(8, 30)
    holiday_policy: HolidayPolicy = "keep"


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    """Every day (``keep``, the default) or every working day, at the configured time."""
    return planner.every_workday(JOB.name, planner.settings.job(JOB), start, end)


def _paragraph(held: meetings.MeetingRound, standing: rounds.RoundStanding, tz: ZoneInfo) -> str:
    from storage.outbound import quote

    round_, meeting = held.round, held.meeting
    local = meeting.starts_at.astimezone(tz)
    where = f"，地点：{quote(meeting.place, max_chars=60)}" if meeting.place else ""
    who = f"，参会：{quote(meeting.attendees, max_chars=60)}" if meeting.attendees else ""
    lines = [
        f"会议#{round_.id}“{quote(round_.title, max_chars=40)}”定于今天（{day_label(local.date())}）"
        f"{local:%H:%M}召开{where}{who}，请准时参加。"
    ]
    missing = [quote(unit.unit_name) for unit in standing.missing]
    if missing:
        lines.append(
            f"已回执{len(standing.answered)}家；尚未回执：{'、'.join(missing)}，"
            f"请于会前回复“#{round_.id} 参会人员：…”。"
        )
    else:
        lines.append(f"各单位均已回执（{len(standing.answered)}家）。")
    return "\n".join(lines)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """One message per group: a paragraph per meeting today not yet begun, @-mentioning the liaisons there of
    every unit it asks."""
    from schedules.compose import Composition, Delivery
    from schedules.content import target_groups
    from schedules.kinds.round_reminder import liaisons_by_group
    from storage import meetings, rounds
    from storage.models import Group
    from storage.outbound import Mention, OutboundMessage

    tz = env.policy.tz
    midnight = datetime.combine(at.astimezone(tz).date(), time(0), tzinfo=tz)
    closed = await meetings.close_held(session, midnight, now)
    paragraphs: dict[int, list[str]] = {}
    mentioned: dict[int, dict[int, Mention]] = {}
    by_id: dict[int, Group] = {}
    today = await meetings.meetings_between(session, midnight, midnight + timedelta(days=1))
    coming = [held for held in today if held.meeting.starts_at > now]
    for held in coming:
        standing = await rounds.round_standing(session, held.round)
        groups = await target_groups(session, [held.round.group] if held.round.group else [], office=False)
        present = await liaisons_by_group(session, [unit.unit_id for unit in standing.units], groups)
        paragraph = _paragraph(held, standing, tz)
        for group in groups:
            by_id[group.id] = group
            paragraphs.setdefault(group.id, []).append(paragraph)
            people = mentioned.setdefault(group.id, {})
            for liaisons in present.get(group.id, {}).values():
                people.update((person.id, Mention.of(person)) for person in liaisons)
    shut = f"；会议已召开，结束回执收集：{'、'.join(f'#{number}' for number in closed)}" if closed else ""
    if not paragraphs:
        reason = "今天的会议均已开始" if today else "今天没有会议"
        return Composition(note=reason + shut, dropped=bool(today) and late)
    deliveries = [
        Delivery(
            by_id[group_id],
            OutboundMessage(
                title="会议提醒",
                body="**会议提醒**\n" + "\n\n".join(lines),
                mentions=list(mentioned[group_id].values()),
                late_post=late,
            ),
        )
        for group_id, lines in paragraphs.items()
    ]
    return Composition(deliveries=deliveries, note=f"提醒会议{len(coming)}个{shut}")


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    return f"{every_day(config)}{config.at:%H:%M}，提醒当天召开的会议的参会单位，并结束已召开会议的回执"


JOB = Job(
    name="meeting-reminder",
    title="会议提醒",
    order=100,
    settings=MeetingReminderSettings,
    plan=plan,
    compose=compose,
    describe=describe,
    checks="当天有会议时才发送",
)
