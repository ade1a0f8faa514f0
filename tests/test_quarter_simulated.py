"""A simulated quarter (1 October – 31 December 2026) through the scheduler itself, on SQLite and PostgreSQL.

Two instances (two engines on one database, as two processes would have) each run a :class:`JobScheduler`: started
the evening before, re-planned (with its catch-up) every night by its own ``replan`` job, and every occurrence fired
through the very APScheduler job the plan registered — on both instances at the same frozen moment. Around them,
as in an office's quarter: the monthly report cycle, the quarterly round switched on, two collections opened by
chat, a weekly 会商 and a bi-monthly written report (双月一汇报, asked of two units) declared in the TOML, and
liaisons answering (the 商务厅 at once, the 发展改革委 on the day
things are due, the 工业和信息化厅 never). The 国庆 holiday and the 调休 Saturday (10月10日) fall inside.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from handlers_kit import Roster, local, say, seed
from schedules_kit import claims, jobs, posts
from sqlalchemy import select

from bot.scheduler import REPLAN_JOB_ID, JobScheduler
from bot.workbooks.rounds import build_round_workbook
from schedules.calendar import WorkCalendar
from schedules.kinds.meeting_reminder import MeetingReminderSettings
from schedules.kinds.periodic_rounds import PeriodicRoundsSettings
from schedules.kinds.round_reminder import RoundReminderSettings
from schedules.meetings import MeetingSeries
from schedules.periodic_rounds import PeriodicRoundSettings, RoundSeries
from storage import rounds
from storage.db import Database
from storage.models import Person, Round, RoundAnswer

START, END = date(2026, 10, 1), date(2026, 12, 31)
WEEKLY = MeetingSeries(title="周会商", weekday=3, at=time(15, 0), place="市政府1号楼第三会议室", notice_workdays=3)
SETTINGS = {
    "quarterly_round": PeriodicRoundSettings(enabled=True, fields=("完成情况", "存在问题")),
    "round_reminder": RoundReminderSettings(),
    "meeting_reminder": MeetingReminderSettings(),
    "meetings": (WEEKLY,),
    "periodic_rounds": PeriodicRoundsSettings(
        rounds=(RoundSeries(title="{period}书面工作汇报", every_months=2, units=("商务厅", "发改委")),)
    ),
}
COLLECTIONS = {
    date(2026, 10, 12): "征集 工作专班联系人 截止 10月23日 字段 姓名、职务、手机 请各成员单位确定一名联系人。",
    date(2026, 11, 16): "征集 年度考评材料 截止 11月27日 请报送年度考评材料。",
}
ANSWERS = {
    "meeting": "参会人员：张三 副厅长",
    "quarterly": "完成情况：推进重点项目12个 存在问题：用地指标紧张",
    "collection": "姓名：张三 职务：处长 手机：13912345678",
}
SCHEDULER_JOBS = {REPLAN_JOB_ID, "calendar-check"}


@pytest.fixture
async def second(database_url: str, db: Database) -> AsyncIterator[Database]:
    other = Database(database_url)
    try:
        yield other
    finally:
        await other.close()


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str
    act: Callable[[], Awaitable[None]]


async def unanswered(db: Database, unit_id: int) -> list[Round]:
    """Open rounds the unit has not answered yet."""
    async with db.sessions() as session:
        answered = select(RoundAnswer.round_id).where(RoundAnswer.unit_id == unit_id)
        return list(
            await session.scalars(
                select(Round).where(Round.state == rounds.OPEN, Round.id.not_in(answered)).order_by(Round.id)
            )
        )


async def answer(db: Database, liaison: Person, round_: Round, at: datetime) -> None:
    text = ANSWERS[round_.kind] if round_.fields else "已按要求报送材料。"
    (reply,) = await say(db, liaison, f"#{round_.id} {text}", at)
    assert reply.startswith("已收到"), reply


def liaison_events(db: Database, roster: Roster, day: date, calendar: WorkCalendar) -> list[Event]:
    """What the liaisons do on ``day``: the 商务厅 answers everything open at 11:00 and reports on the 10th (10
    October is the 调休 Saturday); the 发展改革委 answers what is due that day at 16:00 and reports on the 21st (or
    the next working day); the 工业和信息化厅 never does."""
    if not calendar.is_workday(day):
        return []

    async def commerce() -> None:
        at = local(day.year, day.month, day.day, 11)
        for round_ in await unanswered(db, roster.commerce.id):
            await answer(db, roster.liaison, round_, at)

    async def reform() -> None:
        at = local(day.year, day.month, day.day, 16)
        for round_ in await unanswered(db, roster.reform.id):
            if round_.deadline.astimezone(at.tzinfo).date() == day:
                await answer(db, roster.reform_liaison, round_, at)

    def report(person: Person, hour: int) -> Event:
        async def send() -> None:
            month = (day.replace(day=1) - timedelta(days=1)).month  # the 25th's report covers last month
            text = f"{month}月工作进展：推进重点项目，协调解决问题。"
            at = local(day.year, day.month, day.day, hour, 30)
            (reply,) = await say(db, person, text, at)
            if reply.startswith("您的消息已保存。"):  # rounds are open: the bot asks which one it is for
                assert "请回复“月报”" in reply, reply
                (reply,) = await say(db, person, "月报", at + timedelta(minutes=1))
            assert reply.startswith("已收到【"), reply

        return Event(local(day.year, day.month, day.day, hour, 30), "report", send)

    found = [
        Event(local(day.year, day.month, day.day, 11), "commerce answers", commerce),
        Event(local(day.year, day.month, day.day, 16), "reform answers", reform),
    ]
    found += [report(roster.liaison, 11)] if calendar.workday_on_or_after(day.replace(day=10)) == day else []
    found += [report(roster.reform_liaison, 16)] if calendar.workday_on_or_after(day.replace(day=21)) == day else []
    return found


def office_events(db: Database, roster: Roster, day: date) -> list[Event]:
    if day not in COLLECTIONS:
        return []

    async def open_collection() -> None:
        at = local(day.year, day.month, day.day, 8)
        (preview,) = await say(db, roster.office, COLLECTIONS[day], at)
        code = re.search(r"确认 ([A-Z0-9]{4})", preview)
        assert code is not None, preview
        (posted,) = await say(db, roster.office_deputy, f"确认 {code[1]}", at + timedelta(minutes=5))
        assert posted.startswith("已确认，征集#"), posted

    return [Event(local(day.year, day.month, day.day, 8), "collection", open_collection)]


async def test_a_quarter_through_the_scheduler_posts_each_occurrence_once(
    db: Database, second: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    roster = await seed(db)
    instances = [
        JobScheduler(jobs(db, instance="one", **SETTINGS)),
        JobScheduler(jobs(second, instance="two", **SETTINGS)),
    ]
    calendar = instances[0].jobs.env.calendar
    with time_machine.travel(local(2026, 9, 30, 23), tick=False):
        for instance in instances:
            await instance.start()  # catch-up (nothing: a fresh database) and the first plan
            instance.scheduler.pause()  # the test fires each job at its moment instead of the event loop
    fired: set[str] = set()
    try:
        day = START
        while day <= END:
            with time_machine.travel(local(day.year, day.month, day.day, 0, 5), tick=False):
                for instance in instances:
                    replan = instance.scheduler.get_job(REPLAN_JOB_ID)
                    assert replan is not None
                    await replan.func()
            events = liaison_events(db, roster, day, calendar) + office_events(db, roster, day)
            for job in instances[0].scheduler.get_jobs():
                if job.id in SCHEDULER_JOBS or job.id in fired or job.next_run_time.date() != day:
                    continue
                fired.add(job.id)

                async def fire(job_id: str = job.id) -> None:
                    registered = [instance.scheduler.get_job(job_id) for instance in instances]
                    assert all(registered), job_id  # the same job, planned by each instance
                    await asyncio.gather(*(job.func(*job.args) for job in registered if job is not None))

                events.append(Event(job.next_run_time, job.id, fire))
            for event in sorted(events, key=lambda event: (event.at, event.what)):
                with time_machine.travel(event.at + timedelta(seconds=20), tick=False):
                    await event.act()
            day += timedelta(days=1)
    finally:
        for instance in instances:
            await instance.stop()

    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    planner = instances[0].jobs.env.planner
    planned = [o for o in planner.occurrences(START, END) if not o.skipped]
    assert {o.key for o in planned} == fired  # every planned occurrence fired, nothing else
    won = [claim for claim in await claims(db) if claim.job != "scheduler-epoch"]
    assert sorted((claim.job, claim.occurrence) for claim in won) == sorted((o.job, o.utc) for o in planned)
    assert {claim.status for claim in won} <= {"posted", "nothing"}  # run on time, never caught up or missed
    assert Counter(claim.claimed_by for claim in won).keys() <= {"one", "two"}

    rows = await posts(db)
    assert max(Counter(row.dedupe_key for row in rows).values()) == 1  # nothing posted twice
    scheduled = [row for row in rows if row.origin in {o.job for o in planned}]
    assert all(calendar.is_workday(row.created_at.astimezone(planner.tz).date()) for row in scheduled)
    assert not [
        row for row in rows if date(2026, 10, 1) <= row.created_at.astimezone(planner.tz).date() <= date(2026, 10, 7)
    ]
    on_make_up_day = [row for row in scheduled if row.created_at.astimezone(planner.tz).date() == date(2026, 10, 10)]
    assert [row.origin for row in on_make_up_day] == ["meeting-notice"]  # the 14 October 会商, noticed on the 调休 day

    answered = {"张伟", "李娜"}  # the 商务厅 answers everything the day it is asked and reports on the 10th
    for origin in ("round-reminder", "deadline-reminder"):
        chased = [row for row in scheduled if row.origin == origin]
        assert chased, origin
        for row in chased:
            names = {mention["name"] for mention in row.message["mentions"]}
            assert names and not names & answered, (origin, row.created_at, names, row.message["body"])
    round_chases = [row for row in scheduled if row.origin == "round-reminder"]
    assert any("会议#" in row.message["body"] for row in round_chases)
    assert any("工作专班联系人" in row.message["body"] for row in round_chases)

    async with db.sessions() as session:
        opened = list(await session.scalars(select(Round).order_by(Round.id)))
    monthly = [round_.code for round_ in opened if round_.kind == "monthly"]  # made by the circulars and reports
    assert monthly and len(monthly) == len(set(monthly))  # one round per period, whichever instance made it
    kinds = Counter(round_.kind for round_ in opened if round_.kind != "monthly")
    # 12 meetings in the quarter, 6 January noticed; the September–October written report opened on 2 November.
    assert kinds == {"meeting": 13, "collection": 2, "quarterly": 1, "periodic": 1}
    (bimonthly,) = [round_ for round_ in opened if round_.kind == "periodic"]
    assert bimonthly.title == "2026年9—10月书面工作汇报"
    assert bimonthly.created_at.astimezone(planner.tz).date() == date(2026, 11, 2)
    async with db.sessions() as session:
        asked = await rounds.round_standing(session, bimonthly)
    assert [(unit.unit_name, unit.answered, unit.late) for unit in asked.units] == [
        ("省商务厅", True, False),
        ("省发展改革委", True, False),
    ]
    meeting_mornings = [row for row in scheduled if row.origin == "meeting-reminder"]
    assert len(meeting_mornings) == 12
    assert all(row.created_at.astimezone(planner.tz).weekday() == 2 for row in meeting_mornings)
    assert all("市政府1号楼第三会议室" in row.message["body"] for row in meeting_mornings)
    held = [round_ for round_ in opened if round_.kind == "meeting" and round_.state == rounds.CLOSED]
    assert len(held) == 12  # each closed the morning after it was held; 6 January's is still open

    (contacts,) = [round_ for round_ in opened if round_.title == "工作专班联系人"]
    async with db.sessions() as session:
        standing = await rounds.round_standing(session, contacts)
    sheet = build_round_workbook(standing, tz=planner.tz, office_name="办公室", now=local(2027, 1, 4, 9)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    assert header[:5] == ["序号", "单位", "姓名", "职务", "手机"]
    by_unit = {row[1]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert by_unit["省商务厅"][2:5] == ("张三", "处长", "13912345678")
    assert by_unit["省发展改革委"][2:5] == ("张三", "处长", "13912345678")
    assert by_unit["省工业和信息化厅"][2] in (None, "")
