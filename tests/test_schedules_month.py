"""November 2026, day by day: liaisons report through the bot, the office drafts, the jobs fire on time.

Every occurrence the planner lists is fired at its moment (time frozen there), between the reports as they
arrive; the reminders follow the actual submissions and the 1 December circular names who was on time.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, say, seed
from schedules_kit import jobs, posts, when
from sqlalchemy import select

from schedules.context import JobContext
from schedules.jobs import run_job
from schedules.occurrences import Occurrence
from storage.db import Database
from storage.models import OutboxMessage, Person


@dataclass(frozen=True)
class Said:
    at: datetime
    who: str  # attribute of Roster
    text: str
    expect: str  # the start of the bot's reply


SCRIPT = [
    Said(
        when(2026, 11, 10, 9, 15),
        "liaison",
        "一、招商引资：签约12个项目，总投资86亿元。",
        "已收到【省商务厅】2026年10月工作进展（第1版",
    ),
    Said(
        when(2026, 11, 19, 15),
        "office",
        "周报 添加 11月27日召开重点项目调度会，请各单位分管负责同志参加。",
        "已记入11月23日（周一）09:00",
    ),
    Said(
        when(2026, 11, 20, 16, 40),
        "deputy",
        "一、招商引资：签约13个项目（更正）。",
        "已收到【省商务厅】2026年10月工作进展（第2版",
    ),
    Said(
        when(2026, 11, 23, 10),
        "industry_liaison",
        "十月，全省规上工业增加值同比增长6.1%。",
        "已收到【省工业和信息化厅】2026年10月工作进展（第1版",
    ),
    Said(
        when(2026, 11, 26, 8, 5),
        "reform_liaison",
        "十月重点项目推进情况：新开工项目23个。",
        "已收到【省发展改革委】2026年10月工作进展（第1版",
    ),
    Said(
        when(2026, 11, 30, 17), "office", "通报 添加 12月中旬开展年度考评，请提前准备。", "已记入12月1日（周二）09:00"
    ),
]


async def industry_liaison(db: Database) -> Person:
    async with db.sessions() as session:
        person = await session.scalar(select(Person).where(Person.name == "周杰"))
        assert person is not None
        return person


def mentioned(row: OutboxMessage) -> list[str]:
    return [mention["name"] for mention in row.message["mentions"]]


async def test_november_2026_day_by_day(db: Database) -> None:
    roster = await seed(db)
    people = {
        "liaison": roster.liaison,
        "deputy": roster.deputy,
        "reform_liaison": roster.reform_liaison,
        "industry_liaison": await industry_liaison(db),
        "office": roster.office,
    }
    ctx: JobContext = jobs(db)
    day = date(2026, 11, 1)
    fired: list[tuple[datetime, str, list[OutboxMessage]]] = []
    while day <= date(2026, 12, 1):
        due = [o for o in ctx.env.planner.occurrences(day, day) if not o.skipped]
        events: list[Occurrence | Said] = [*due, *(said for said in SCRIPT if said.at.date() == day)]
        # What a person says at a job's very minute arrives first.
        for event in sorted(events, key=lambda event: (event.at, isinstance(event, Occurrence))):
            if isinstance(event, Said):
                replies = await say(db, people[event.who], event.text, event.at)
                assert replies and replies[0].startswith(event.expect), replies
                continue
            before = len(await posts(db))
            with time_machine.travel(event.at, tick=False):
                outcome = await run_job(ctx, event.job, event.at, late=False)
            assert outcome.status in ("posted", "nothing")
            fired.append((event.at, event.job, (await posts(db))[before:]))
        day += timedelta(days=1)

    schedule = [(at.strftime("%m-%d %H:%M"), job, [row.target for row in rows]) for at, job, rows in fired]
    assert schedule == [
        ("11-02 09:00", "weekly-briefing", [MEMBER_GROUP]),
        ("11-02 09:00", "monthly-circular", [MEMBER_GROUP]),
        ("11-09 09:00", "weekly-briefing", [MEMBER_GROUP]),
        ("11-16 09:00", "weekly-briefing", [MEMBER_GROUP]),
        ("11-18 09:30", "deadline-reminder", [MEMBER_GROUP]),
        ("11-23 09:00", "weekly-briefing", [MEMBER_GROUP]),
        ("11-23 09:30", "deadline-reminder", [MEMBER_GROUP]),
        ("11-24 09:30", "deadline-reminder", [MEMBER_GROUP]),
        ("11-25 09:30", "deadline-reminder", [MEMBER_GROUP]),
        ("11-25 15:00", "deadline-reminder", [MEMBER_GROUP]),
        ("11-26 09:00", "overdue-notice", [OFFICE_GROUP]),
        ("11-30 09:00", "weekly-briefing", [MEMBER_GROUP]),
        ("12-01 09:00", "monthly-circular", [MEMBER_GROUP]),
    ]
    posted = {(at.strftime("%m-%d %H:%M"), job): rows[0] for at, job, rows in fired}

    # Reminders follow the submissions: 省商务厅 reported on the 10th, 省工业和信息化厅 on the 23rd at 10:00.
    assert mentioned(posted[("11-18 09:30", "deadline-reminder")]) == ["王强", "周杰"]
    assert mentioned(posted[("11-23 09:30", "deadline-reminder")]) == ["王强", "周杰"]
    for moment in ("11-24 09:30", "11-25 09:30", "11-25 15:00"):
        assert mentioned(posted[(moment, "deadline-reminder")]) == ["王强"]
    assert "距截止还有5个工作日" in posted[("11-18 09:30", "deadline-reminder")].message["body"]
    assert posted[("11-25 15:00", "deadline-reminder")].message["body"].startswith("今天（11月25日（周三））")

    # The office hears on the 26th who is still missing (省发展改革委 reported late at 08:05).
    overdue = posted[("11-26 09:00", "overdue-notice")].message["body"]
    assert "仍有1家成员单位未报送（按时报送2家，逾期报送1家）" in overdue
    assert "- 省财政厅（预算处）：名册中无联络员" in overdue

    # The briefings count the week's reports and carry the office's draft once.
    week_of_23 = posted[("11-23 09:00", "weekly-briefing")].message["body"]
    assert "收到成员单位报送1份，涉及1家单位：省商务厅。" in week_of_23
    assert "- 11月27日召开重点项目调度会，请各单位分管负责同志参加。" in week_of_23
    assert "11月25日（周三）：2026年10月工作进展和重点项目推进情况报送截止" in week_of_23
    week_of_30 = posted[("11-30 09:00", "weekly-briefing")].message["body"]
    assert "涉及2家单位：省工业和信息化厅、省发展改革委" in week_of_30
    assert "调度会" not in week_of_30
    assert "逾期报送单位：省发展改革委。" in week_of_30
    assert "12月1日（周二）：发布2026年11月工作通报。" in week_of_30

    # The 1 December circular.
    circular = posted[("12-01 09:00", "monthly-circular")].message
    assert circular["title"] == "强省会工作机制办公室2026年11月工作通报"
    assert "应报送4家，按时报送2家，逾期报送1家，未报送1家，按时报送率50.0%" in circular["body"]
    assert "- 逾期报送（1家）：省发展改革委。" in circular["body"]
    assert "- 未报送（1家）：省财政厅。" in circular["body"]
    assert "- 12月中旬开展年度考评，请提前准备。" in circular["body"]
    assert "请各成员单位于12月25日（周五）前报送2026年11月工作进展" in circular["body"]
    # The 2 November circular covered October's collection (period 2026-09).
    assert "10月，各成员单位报送2026年9月工作进展" in posted[("11-02 09:00", "monthly-circular")].message["body"]
