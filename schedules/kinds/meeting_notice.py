"""会议通知 of the declared recurring meetings (``[[schedules.meetings]]``): each meeting's notice is posted once,
``notice_workdays`` working days ahead, as a numbered 会议 round collecting 回执 like one posted by chat.

Notices due at the same moment are one occurrence (the claim is per job and moment): each group gets one
message holding every notice for it. A meeting already posted (series and day, unique in the database) is never
posted again, whatever re-runs or instances; a notice caught up after the meeting started is dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from schedules.job import Job, JobSettings
from schedules.meetings import (
    PlannedMeeting,
    details,
    notice_body,
    notice_message,
    noticed_between,
    receipt_due,
    series_rule,
)
from schedules.occurrences import Occurrence, Planner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    """One occurrence per moment some declared meeting's notice is due."""
    config = planner.settings.job(JOB)
    due = noticed_between(planner.settings.meetings, planner.calendar, planner.tz, config.at, start, end)
    found: dict[datetime, list[PlannedMeeting]] = {}
    for meeting in due:
        found.setdefault(meeting.notice_at, []).append(meeting)
    occurrences = []
    for at, held in sorted(found.items()):
        subject = "、".join(f"{m.series.title}{m.starts:%m-%d}" for m in held)
        note = "；".join(m.note for m in held if m.note)
        occurrences.append(Occurrence(JOB.name, at, held[0].starts.date(), subject, note))
    return occurrences


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    from schedules.compose import Composition, Delivery
    from schedules.content import target_groups
    from storage import meetings
    from storage.models import Group

    tz = env.policy.tz
    config = env.settings.job(JOB)
    day = at.astimezone(tz).date()
    due = [
        meeting
        for meeting in noticed_between(env.settings.meetings, env.calendar, tz, config.at, day, day)
        if meeting.notice_at == at.astimezone(tz)
    ]
    bodies: dict[int, list[str]] = {}
    titles: dict[int, list[str]] = {}
    by_id: dict[int, Group] = {}
    opened: list[str] = []
    skipped: list[str] = []
    started = False
    for meeting in due:
        series = meeting.series
        if meeting.nominal in await meetings.posted_nominals(session, series.title):
            skipped.append(f"{series.title}（已发布）")
            continue
        if meeting.starts <= now:
            skipped.append(f"{series.title}（会议已开始，不再补发通知）")
            started = True
            continue
        groups = await target_groups(session, series.groups, office=False)
        if not groups:
            skipped.append(f"{series.title}（没有可发送的群）")
            continue
        lines = details(meeting.starts, series.place, series.attendees, tz)
        posted = await meetings.open_meeting(
            session,
            title=series.title,
            details=lines,
            starts_at=meeting.starts,
            place=series.place,
            attendees=series.attendees,
            deadline=receipt_due(env.calendar, meeting.starts),
            code=meeting.code,
            now=now,
            series=series.title,
            nominal=meeting.nominal,
        )
        if len(series.groups) == 1:
            posted.round.group = series.groups[0]
        body = notice_body(series.title, lines, posted.round.deadline, posted.round.id, tz)
        for group in groups:
            by_id[group.id] = group
            bodies.setdefault(group.id, []).append(body)
            titles.setdefault(group.id, []).append(series.title)
        opened.append(f"会议#{posted.round.id}{series.title}")
    deliveries = [
        Delivery(by_id[group_id], notice_message("、".join(titles[group_id]), "\n\n".join(texts), late=late))
        for group_id, texts in bodies.items()
    ]
    note = "；".join(part for part in ("发布" + "、".join(opened) if opened else "", "、".join(skipped)) if part)
    return Composition(deliveries=deliveries, note=note or "没有到期的会议通知", dropped=started and not opened)


def describe(settings: ScheduleSettings) -> str:
    if not settings.meetings:
        return "配置中未声明例会（可在 [[schedules.meetings]] 中声明每周会商、每月调度等）"
    declared = "；".join(series_rule(series) for series in settings.meetings)
    return f"已声明例会{len(settings.meetings)}个（会议通知于{settings.job(JOB).at:%H:%M}发布）：{declared}"


JOB = Job(
    name="meeting-notice",
    title="例会通知",
    order=90,
    settings=JobSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
