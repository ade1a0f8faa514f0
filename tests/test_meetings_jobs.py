"""Declared recurring meetings (``[[schedules.meetings]]``) on the working calendar, their notices, the 回执
reminder of the working day before and the morning-of reminder — each once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, local, say, seed
from pydantic import ValidationError
from schedules_kit import jobs, policy, posts
from sqlalchemy import select

from schedules.jobs import run_job
from schedules.kinds import meeting_notice
from schedules.kinds.meeting_reminder import MeetingReminderSettings
from schedules.kinds.round_reminder import RoundReminderSettings
from schedules.meetings import MeetingSeries, nominal_days, planned_meetings
from schedules.settings import ScheduleSettings
from storage.db import Database
from storage.models import Meeting, Round

WEEKLY = MeetingSeries(
    title="周会商",
    weekday=3,
    at=time(15, 0),
    place="市政府1号楼第三会议室",
    attendees="各成员单位分管负责同志",
    notice_workdays=3,
)
MONTHLY = MeetingSeries(title="月调度", day=1, at=time(10, 0), notice_workdays=2)
BIMONTHLY = MeetingSeries(title="双月汇报", day=12, every_months=2, start=date(2026, 10, 1), notice_workdays=1)
ON = {
    "meetings": (WEEKLY,),
    "round_reminder": RoundReminderSettings(),
    "meeting_reminder": MeetingReminderSettings(),
}


def test_declared_meetings_move_off_holidays_and_are_noticed_on_working_days() -> None:
    settings = ScheduleSettings(meetings=(WEEKLY, MONTHLY, BIMONTHLY))
    tz = policy().tz
    held = planned_meetings(settings.meetings, settings.calendar(), tz, time(9), date(2026, 9, 28), date(2026, 12, 31))
    by_title: dict[str, list[tuple[date, date, str]]] = {}
    for meeting in held:
        by_title.setdefault(meeting.series.title, []).append(
            (meeting.starts.date(), meeting.notice_at.date(), meeting.note)
        )
    weekly = by_title["周会商"]
    assert weekly[:3] == [
        (date(2026, 9, 30), date(2026, 9, 24), ""),  # three working days before, over the 中秋 holiday
        (date(2026, 10, 8), date(2026, 9, 28), "10月7日（周三）为国庆节，调整至10月8日（周四）"),
        (date(2026, 10, 14), date(2026, 10, 10), ""),  # the third working day before is the 调休 Saturday
    ]
    assert len(weekly) == 14
    assert [(day, notice) for day, notice, _ in by_title["月调度"]] == [
        (date(2026, 10, 8), date(2026, 9, 29)),  # 10月1日 国庆 → the next working day
        (date(2026, 11, 2), date(2026, 10, 29)),  # 11月1日 is a Sunday
        (date(2026, 12, 1), date(2026, 11, 27)),
    ]
    assert [(day, notice) for day, notice, _ in by_title["双月汇报"]] == [
        (date(2026, 10, 12), date(2026, 10, 10)),  # noticed on the 调休 Saturday, a working day
        (date(2026, 12, 14), date(2026, 12, 11)),  # 12月12日 is a Saturday
    ]
    fortnightly = MeetingSeries(title="双周会商", weekday=1, every_weeks=2, start=date(2026, 11, 2))
    assert nominal_days(fortnightly, date(2026, 10, 1), date(2026, 11, 30)) == [
        date(2026, 11, 2),
        date(2026, 11, 16),
        date(2026, 11, 30),
    ]


def test_a_declared_meeting_names_either_a_weekday_or_a_day_and_titles_differ() -> None:
    with pytest.raises(ValidationError, match="weekday"):
        MeetingSeries(title="会商", weekday=3, day=10)
    with pytest.raises(ValidationError, match="会议名称重复：周会商"):
        ScheduleSettings(meetings=(WEEKLY, WEEKLY))


async def test_a_weekly_meeting_is_noticed_chased_and_reminded_once(db: Database) -> None:
    roster = await seed(db)
    one, two = jobs(db, instance="one", **ON), jobs(db, instance="two", **ON)

    async def run(job: str, at_: tuple[int, int, int, int, int]) -> list[str]:
        at = local(2026, *at_)
        with time_machine.travel(at + timedelta(seconds=20), tick=False):
            first = await run_job(one, job, at)
            second = await run_job(two, job, at)
        assert second.status == "taken"
        return [first.status, first.note]

    (listing,) = await say(db, roster.office, "会议", local(2026, 12, 3, 16), policy=one.policy)
    assert "- 周会商（12月9日（周三）15:00）：例会，通知将于12月4日（周五）09:00发布" in listing.splitlines()
    status, _ = await run("meeting-notice", (12, 4, 9, 0))
    assert status == "posted"
    async with db.sessions() as session:
        round_ = (await session.scalars(select(Round))).one()
        meeting = await session.get(Meeting, round_.id)
    assert meeting is not None and round_.kind == "meeting"
    assert (meeting.starts_at, meeting.place, meeting.attendees) == (
        local(2026, 12, 9, 15),
        "市政府1号楼第三会议室",
        "各成员单位分管负责同志",
    )
    assert (meeting.series, meeting.nominal, round_.deadline) == ("周会商", date(2026, 12, 9), local(2026, 12, 8, 18))
    (notice,) = await posts(db, origin="meeting-notice")
    assert notice.message["body"].startswith(f"**会议通知#{round_.id}：周会商**\n时间：12月9日（周三）15:00\n")
    assert (
        f"请各成员单位联络员于12月8日（周二）18:00前回复回执“#{round_.id} 参会人员：姓名、职务”。"
        in (notice.message["body"])
    )

    (receipt,) = await say(db, roster.liaison, f"#{round_.id} 参会人员：张三 副厅长", local(2026, 12, 7, 9))
    assert "参会人员：张三 副厅长" in receipt
    assert await run("round-reminder", (12, 7, 10, 0)) == ["nothing", "没有需要提醒的征集（或均已答复）"]
    status, _ = await run("round-reminder", (12, 8, 10, 0))  # the working day before: only the laggards
    assert status == "posted"
    (chase,) = await posts(db, origin="round-reminder")
    assert chase.message["body"] == (
        f"会议#{round_.id}“周会商”回执截止时间为12月8日（周二）18:00，以下单位尚未回执：省发展改革委、省工业和信息化厅。"
        f"请联络员回复“#{round_.id} 参会人员：姓名、职务”。"
    )
    assert {mention["name"] for mention in chase.message["mentions"]} == {"王强", "周杰"}
    assert chase.message["title"] == "会议回执提醒"

    status, _ = await run("meeting-reminder", (12, 9, 8, 30))  # the morning of the meeting: everyone
    assert status == "posted"
    (morning,) = await posts(db, origin="meeting-reminder")
    assert morning.message["body"].startswith(
        f"**会议提醒**\n会议#{round_.id}“周会商”定于今天（12月9日（周三））15:00召开，地点：市政府1号楼第三会议室，"
        "参会：各成员单位分管负责同志，请准时参加。\n已回执1家；尚未回执：省发展改革委、省工业和信息化厅、省财政厅"
    )
    assert {mention["name"] for mention in morning.message["mentions"]} == {"张伟", "李娜", "王强", "周杰"}
    assert morning.group_id == roster.members.id
    assert (await run("round-reminder", (12, 9, 10, 0)))[0] == "nothing"  # the meeting day: no more 回执 chasing

    status, note = await run("meeting-reminder", (12, 10, 8, 30))
    assert (status, note) == ("nothing", f"今天没有会议；会议已召开，结束回执收集：#{round_.id}")
    async with db.sessions() as session:
        assert (await session.get(Round, round_.id)).state == "closed"  # type: ignore[union-attr]
    assert len(await posts(db, origin="meeting-notice")) == 1


async def test_a_notice_already_posted_or_past_is_not_posted_again(db: Database) -> None:
    await seed(db)
    ctx = jobs(db, **ON)
    at = local(2026, 12, 4, 9)
    with time_machine.travel(at, tick=False):
        assert (await run_job(ctx, "meeting-notice", at)).status == "posted"
    moved = jobs(
        db, **{**ON, "meeting_notice": ctx.settings.job(meeting_notice.JOB).model_copy(update={"at": time(9, 30)})}
    )
    later = local(2026, 12, 4, 9, 30)  # the notice time changed: another occurrence, the same meeting
    with time_machine.travel(later, tick=False):
        outcome = await run_job(moved, "meeting-notice", later)
    assert (outcome.status, outcome.note) == ("nothing", "周会商（已发布）")
    caught_up = local(2026, 12, 11, 11)  # caught up late (补发): the meeting of 12月16日 is still ahead
    with time_machine.travel(caught_up, tick=False):
        caught = await run_job(ctx, "meeting-notice", local(2026, 12, 11, 9), late=True)
    assert caught.status == "posted" and caught.note.startswith("补发；")
    assert len(await posts(db, origin="meeting-notice")) == 2
    assert caught.groups == (MEMBER_GROUP,)
