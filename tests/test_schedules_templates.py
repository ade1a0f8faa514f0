"""Every message template rendered with realistic data: empty weeks, everyone late, 200 units."""

from datetime import date, datetime
from importlib import resources

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP
from schedules_kit import SHANGHAI, jobs, posts, when

from schedules.content import AnnouncementMade, MissingUnit, ReceivedReport
from schedules.jobs import run_job
from schedules.kinds.weekly_briefing import DueItem, Upcoming
from schedules.templating import Rendered, Templates
from storage.db import Database
from storage.models import Group, GroupMember, Person, Role, Submission, Unit
from storage.periods import Period
from storage.standing import PeriodStanding, UnitStanding

TEMPLATES = Templates(SHANGHAI)
OFFICE = "强省会工作机制办公室"

DEPARTMENTS = [
    "省发展改革委", "省教育厅", "省科技厅", "省工业和信息化厅", "省公安厅", "省民政厅", "省司法厅", "省财政厅",
    "省人力资源社会保障厅", "省自然资源厅", "省生态环境厅", "省住房城乡建设厅", "省交通运输厅", "省水利厅",
    "省农业农村厅", "省商务厅", "省文化和旅游厅", "省卫生健康委", "省应急管理厅", "省审计厅", "省市场监管局",
    "省统计局", "省医保局", "省林业局", "省能源局", "省大数据局",
]  # fmt: skip
CITIES = ["长沙", "株洲", "湘潭", "衡阳", "邵阳", "岳阳", "常德", "张家界", "益阳", "郴州", "永州", "怀化", "娄底"]
CITY_OFFICES = ["市发展改革委", "市工业和信息化局", "市商务局", "市财政局", "市住房城乡建设局", "市交通运输局"]


def unit_names(count: int) -> list[str]:
    names = DEPARTMENTS + [city + office for office in CITY_OFFICES for city in CITIES]
    names += [f"{city}市第{n}片区管委会" for n in range(1, 20) for city in CITIES]
    assert len(names) >= count
    return names[:count]


def standing(period: Period, statuses: list[str]) -> PeriodStanding:
    names = unit_names(len(statuses))
    units = [
        UnitStanding(unit_id=n + 1, unit_name=name, division="综合处", status=status, versions=int(status != "missing"))
        for n, (name, status) in enumerate(zip(names, statuses, strict=True))
    ]
    return PeriodStanding(period=period, units=units)


def well_formed(rendered: Rendered) -> str:
    body = rendered.body
    assert rendered.title
    assert body and body == body.strip()
    assert "{{" not in body and "{%" not in body and "None" not in body
    assert "\n\n\n" not in body
    assert all(line == line.rstrip() for line in body.splitlines())
    return body


def weekly(**overrides: object) -> Rendered:
    context: dict[str, object] = {
        "office_name": OFFICE,
        "monday": date(2026, 11, 23),
        "sunday": date(2026, 11, 29),
        "last_start": date(2026, 11, 16),
        "last_end": date(2026, 11, 22),
        "late": False,
        "scheduled_at": when(2026, 11, 23),
        "issued": date(2026, 11, 23),
        "reports": [],
        "report_units": [],
        "announcements": [],
        "standing": standing(Period(2026, 10), ["missing"] * 4),
        "standing_due": date(2026, 11, 25),
        "deadline_passed": False,
        "deadlines": [],
        "circulars": [],
        "drafts": [],
    }
    context.update(overrides)
    return TEMPLATES.render("weekly_briefing", **context)


def test_every_packaged_template_is_covered() -> None:
    packaged = {path.name for path in resources.files("schedules").joinpath("templates").iterdir()}
    assert packaged == {
        "weekly_briefing.j2",
        "monthly_circular.j2",
        "deadline_reminder.j2",
        "overdue_notice.j2",
        "missed_occurrences.j2",
        "calendar_missing.j2",
        "item_reminder.j2",  # covered in tests/test_items_rhythm.py
    }


def test_weekly_briefing_of_an_empty_week() -> None:
    rendered = weekly()
    body = well_formed(rendered)
    assert rendered.title == "强省会工作机制办公室每周工作通报（11月23日）"
    assert body == (
        "**一、上周工作情况（11月16日至11月22日）**\n"
        "- 上周未收到成员单位报送。\n"
        "- 上周未发布通知。\n"
        "- 2026年10月工作进展报送情况（截止日11月25日（周三））：应报送4家，已报送0家（按时0家），尚未报送4家。\n"
        "\n"
        "**二、下周安排（11月23日至11月29日）**\n"
        "- 暂无集中安排事项。\n"
        "\n"
        "强省会工作机制办公室\n"
        "2026年11月23日"
    )


def test_weekly_briefing_of_a_busy_week_sent_late() -> None:
    reports = [
        ReceivedReport("省商务厅", Period(2026, 10), 1, when(2026, 11, 17, 10), True),
        ReceivedReport("省商务厅", Period(2026, 10), 2, when(2026, 11, 18, 10), True),
        ReceivedReport("省财政厅", Period(2026, 10), 1, when(2026, 11, 20, 10), True),
    ]
    body = well_formed(
        weekly(
            late=True,
            issued=date(2026, 11, 23),
            reports=reports,
            report_units=["省商务厅", "省财政厅"],
            announcements=[AnnouncementMade(when(2026, 11, 18, 15), "关于召开第三季度联席会议的通知", 3)],
            deadlines=[DueItem(Period(2026, 10), date(2026, 11, 25))],
            circulars=[Upcoming(when(2026, 12, 1), "2026年11月")],
            drafts=["11月27日召开重点项目调度会。", "＊加粗＊与＠提及已被转义。"],
        )
    )
    assert body.startswith("（本通报原定于11月23日（周一）09:00发送，因服务中断补发。）\n\n**一、上周工作情况")
    assert "- 收到成员单位报送3份，涉及2家单位：省商务厅、省财政厅。" in body
    assert "- 11月18日（周三）发布通知：关于召开第三季度联席会议的通知（发送至3个群）。" in body
    assert "- 11月25日（周三）：2026年10月工作进展和重点项目推进情况报送截止，请尚未报送的成员单位按时报送。" in body
    assert "- 12月1日（周二）：发布2026年11月工作通报。" in body
    assert "- ＊加粗＊与＠提及已被转义。" in body


def test_weekly_briefing_after_the_deadline_with_everyone_late() -> None:
    everyone_late = standing(Period(2026, 10), ["late"] * 200)
    body = well_formed(weekly(standing=everyone_late, deadline_passed=True))
    assert "应报送200家，已报送200家（按时0家、逾期200家），尚未报送0家。" in body
    late_line = next(line for line in body.splitlines() if line.startswith("- 逾期报送单位："))
    assert late_line.count("、") == 199
    assert "未报送单位" not in body


def test_weekly_briefing_with_no_units_on_the_roster() -> None:
    body = well_formed(weekly(standing=PeriodStanding(period=Period(2026, 10), units=[])))
    assert "报送情况" not in body


def circular(units: PeriodStanding, **overrides: object) -> Rendered:
    context: dict[str, object] = {
        "office_name": OFFICE,
        "work_month": Period(2026, 11),
        "late": False,
        "scheduled_at": when(2026, 12, 1),
        "issued": date(2026, 12, 1),
        "standing": units,
        "on_time_first": units.on_time,
        "on_time_names_up_to": 40,
        "due": date(2026, 11, 25),
        "next_period": Period(2026, 11),
        "next_due": date(2026, 12, 25),
        "drafts": [],
    }
    context.update(overrides)
    return TEMPLATES.render("monthly_circular", **context)


def test_monthly_circular_with_every_unit_late() -> None:
    rendered = circular(standing(Period(2026, 10), ["late"] * 200))
    body = well_formed(rendered)
    assert rendered.title == "强省会工作机制办公室2026年11月工作通报"
    assert "应报送200家，按时报送0家，逾期报送200家，未报送0家，按时报送率0.0%。" in body
    assert "- 逾期报送（200家）：省发展改革委、省教育厅" in body
    assert "未报送（" not in body
    assert "- 请各成员单位于12月25日（周五）前报送2026年11月工作进展和重点项目推进情况。" in body


def test_monthly_circular_mixed_and_sent_late_with_drafts() -> None:
    statuses = ["on_time"] * 150 + ["late"] * 30 + ["missing"] * 20
    body = well_formed(circular(standing(Period(2026, 10), statuses), late=True, drafts=["12月中旬开展年度考评。"]))
    assert body.startswith("（本通报原定于12月1日（周二）09:00发送，因服务中断补发。）")
    assert "按时报送150家，逾期报送30家，未报送20家，按时报送率75.0%。" in body
    assert "- 未报送（20家）：" in body
    assert "- 12月中旬开展年度考评。" in body


def test_monthly_circular_names_on_time_units_first_then_late_then_missing() -> None:
    units = standing(Period(2026, 10), ["on_time", "late", "on_time", "missing", "on_time"])
    body = well_formed(circular(units, on_time_first=[units.units[4], units.units[0], units.units[2]]))
    on_time = body.index("- 按时报送（3家，按首次报送先后）：省公安厅、省发展改革委、省科技厅。")
    late = body.index("- 逾期报送（1家）：省教育厅。")
    missing = body.index("- 未报送（1家）：省工业和信息化厅。")
    assert on_time < late < missing


def test_monthly_circular_collapses_on_time_units_to_a_count_above_the_limit() -> None:
    units = standing(Period(2026, 10), ["on_time"] * 41 + ["late"])
    body = well_formed(circular(units))
    assert "- 按时报送41家。" in body and "省发展改革委" not in body.split("逾期报送（")[0].split("按时报送率")[1]
    assert "- 逾期报送（1家）：" in body
    named = well_formed(circular(units, on_time_names_up_to=41))
    assert "- 按时报送（41家，按首次报送先后）：省发展改革委、" in named
    assert "按时报送41家。" not in named


def test_monthly_circular_all_on_time_and_empty_roster() -> None:
    assert "- 各成员单位均按时报送。" in well_formed(circular(standing(Period(2026, 10), ["on_time"] * 12)))
    assert "名册中暂无成员单位。" in well_formed(circular(PeriodStanding(period=Period(2026, 10), units=[])))


def liaisons(count: int) -> list[MissingUnit]:
    units = []
    for n, name in enumerate(unit_names(count)):
        unit = MissingUnit(n + 1, name, "综合处")
        unit.liaisons = [
            Person(id=2 * n + 1, name=f"联络员{n + 1}", role=Role.A, mobile=f"139{n:08d}"),
            Person(id=2 * n + 2, name=f"副联络员{n + 1}", role=Role.B),
        ]
        units.append(unit)
    return units


@pytest.mark.parametrize(
    ("moment", "due_today", "workdays_left", "opening"),
    [
        (when(2026, 11, 18, 9, 30), False, 5, "2026年10月工作进展报送截止日为11月25日（周三），距截止还有5个工作日。"),
        (when(2026, 11, 25, 15), True, 0, "今天（11月25日（周三））是2026年10月工作进展报送截止日。"),
        (when(2026, 10, 23, 15), False, 0, "2026年9月工作进展报送截止日为10月25日（周日）。"),
    ],
)
def test_reminders(moment: datetime, due_today: bool, workdays_left: int, opening: str) -> None:
    period = Period(2026, 10) if moment.month == 11 else Period(2026, 9)
    due = date(2026, 11, 25) if moment.month == 11 else date(2026, 10, 25)
    rendered = TEMPLATES.render(
        "deadline_reminder",
        period=period,
        due=due,
        deadline=datetime(due.year, due.month, due.day, 23, 59, 59, tzinfo=SHANGHAI),
        due_today=due_today,
        workdays_left=workdays_left,
        now=moment,
        late=False,
        units=liaisons(200),
    )
    body = well_formed(rendered)
    assert rendered.title == f"催报提醒（{period.label}）"
    assert body.startswith(opening)
    assert f"截至{moment.month}月{moment.day}日" in body
    assert "以下200家成员单位尚未报送：" in body
    assert "- 省发展改革委（联络员：联络员1、副联络员1）" in body
    assert len([line for line in body.splitlines() if line.startswith("- ")]) == 200
    assert f"于{due.month}月{due.day}日" in body and "24时前" in body


def test_overdue_notice_for_200_missing_units_and_for_none() -> None:
    missing = liaisons(200)
    missing[5].liaisons = []
    rendered = TEMPLATES.render(
        "overdue_notice",
        period=Period(2026, 10),
        deadline=datetime(2026, 11, 25, 23, 59, 59, tzinfo=SHANGHAI),
        now=when(2026, 11, 26),
        late=False,
        standing=standing(Period(2026, 10), ["missing"] * 200),
        missing=missing,
    )
    body = well_formed(rendered)
    assert rendered.title == "逾期未报名单（2026年10月）"
    assert "仍有200家成员单位未报送（按时报送0家，逾期报送0家）：" in body
    assert "- 省发展改革委（综合处）：A角联络员1 13900000000；B角副联络员1" in body
    assert "- 省民政厅（综合处）：名册中无联络员" in body
    assert len([line for line in body.splitlines() if line.startswith("- ")]) == 200
    nobody = TEMPLATES.render(
        "overdue_notice",
        period=Period(2026, 10),
        deadline=datetime(2026, 11, 25, 17, 30, tzinfo=SHANGHAI),
        now=when(2026, 11, 26),
        late=True,
        standing=standing(Period(2026, 10), ["late"] * 200),
        missing=[],
    )
    assert "报送已于11月25日（周三）17:30截止" in well_formed(nobody)
    assert "各成员单位均已报送（按时报送0家，逾期报送200家），无逾期未报单位。" in nobody.body


def test_missed_occurrences_and_calendar_notices() -> None:
    missed = TEMPLATES.render(
        "missed_occurrences",
        grace_hours="6",
        missed=[
            {"at": when(2026, 11, 23), "title": "每周工作通报", "period": None},
            {"at": when(2026, 11, 23, 9, 30), "title": "催报提醒", "period": "2026年10月"},
        ],
    )
    body = well_formed(missed)
    assert body.splitlines()[1:3] == [
        "- 11月23日（周一）09:00　每周工作通报",
        "- 11月23日（周一）09:30　催报提醒（2026年10月）",
    ]
    calendar = TEMPLATES.render("calendar_missing", year=2027)
    assert calendar.title == "2027年节假日安排未收录"
    assert "2027年的定时任务按法定节假日规则推算" in well_formed(calendar)


async def test_every_job_with_200_units_on_the_database(db: Database) -> None:
    """The whole path with a large roster: 200 units, their A and B liaisons in the members' group."""
    names = unit_names(200)
    async with db.transaction() as session:
        members = Group(name=MEMBER_GROUP, platform="sandbox")
        office = Group(name=OFFICE_GROUP, platform="sandbox", is_office=True)
        units = [Unit(name=name, division="综合处") for name in names]
        session.add_all([members, office, *units])
        await session.flush()
        people = []
        for n, unit in enumerate(units):
            people.append(Person(name=f"联络员{n}", role=Role.A, unit_id=unit.id, mobile=f"139{n:08d}"))
            people.append(Person(name=f"副联络员{n}", role=Role.B, unit_id=unit.id))
        session.add_all(people)
        await session.flush()
        session.add_all(GroupMember(group_id=members.id, person_id=person.id) for person in people)
        for n, unit in enumerate(units[:120]):  # 100 on time, 20 late, 80 missing
            received = when(2026, 11, 20) if n < 100 else when(2026, 11, 26, 8)
            session.add(Submission(unit_id=unit.id, period="2026-10", version=1, received_at=received, on_time=n < 100))
    ctx = jobs(db)
    for job, at in [
        ("deadline-reminder", when(2026, 11, 25, 15)),
        ("overdue-notice", when(2026, 11, 26, 9)),
        ("weekly-briefing", when(2026, 11, 30)),
        ("monthly-circular", when(2026, 12, 1)),
    ]:
        with time_machine.travel(at, tick=False):
            assert (await run_job(ctx, job, at, late=False)).status == "posted"
    reminder, overdue, briefing, circular_row = await posts(db)
    assert len(reminder.message["mentions"]) == 160  # the 80 units with no report, A and B each
    assert "以下80家成员单位尚未报送" in reminder.message["body"]
    assert "仍有80家成员单位未报送（按时报送100家，逾期报送20家）" in overdue.message["body"]
    assert "收到成员单位报送20份，涉及20家单位" in briefing.message["body"]
    assert "按时报送100家，逾期报送20家，未报送80家，按时报送率50.0%" in circular_row.message["body"]
    (missing_line,) = [
        line for line in circular_row.message["body"].splitlines() if line.startswith("- 未报送（80家）：")
    ]
    assert missing_line.count("、") == 79


def test_roster_names_cannot_carry_markup_or_mentions() -> None:
    units = liaisons(1)
    units[0].name = "省**测试**厅@所有人"
    units[0].liaisons[0].name = "<@all>"
    body = TEMPLATES.render(
        "deadline_reminder",
        period=Period(2026, 10),
        due=date(2026, 11, 25),
        deadline=datetime(2026, 11, 25, 23, 59, 59, tzinfo=SHANGHAI),
        due_today=False,
        workdays_left=2,
        now=when(2026, 11, 23, 9, 30),
        late=False,
        units=units,
    ).body
    assert "- 省＊＊测试＊＊厅＠所有人（联络员：＜＠all＞、副联络员1）" in body
    marked = standing(Period(2026, 10), ["missing"])
    marked.units[0] = UnitStanding(1, "[链接](https://example.com)", "综合处", "missing")
    assert "［链接］（https：//example.com）" in circular(marked).body
