"""When each job runs, around holidays: what ``duban jobs list`` shows is what the scheduler plans."""

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from schedules_kit import SHANGHAI, policy

from bot.cli import main
from bot.scheduler import HORIZON, JobScheduler
from schedules.context import JobContext, ScheduleEnv
from schedules.job import JobSettings
from schedules.kinds.deadline_reminder import ReminderSettings, reminder_period, reminders_for
from schedules.kinds.overdue_notice import overdue_for, overdue_period
from schedules.occurrences import Occurrence, Planner
from storage.db import Database
from storage.periods import Period


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``main`` installs a handler on the (captured) stderr; put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def planner(**settings: object) -> Planner:
    return ScheduleEnv.of(policy(**settings)).planner


def table(occurrences: list[Occurrence]) -> list[tuple[str, str]]:
    return [(o.at.strftime("%m-%d %H:%M"), o.job) for o in occurrences if not o.skipped]


def test_november_2026() -> None:
    found = planner().occurrences(date(2026, 11, 1), date(2026, 12, 1))
    assert table(found) == [
        ("11-02 09:00", "weekly-briefing"),
        ("11-02 09:00", "monthly-circular"),  # 1 November is a Sunday
        ("11-09 09:00", "weekly-briefing"),
        ("11-16 09:00", "weekly-briefing"),
        ("11-18 09:30", "deadline-reminder"),  # 5th working day before Wednesday 25 November
        ("11-23 09:00", "weekly-briefing"),
        ("11-23 09:30", "deadline-reminder"),
        ("11-24 09:30", "deadline-reminder"),
        ("11-25 09:30", "deadline-reminder"),
        ("11-25 15:00", "deadline-reminder"),
        ("11-26 09:00", "overdue-notice"),
        ("11-30 09:00", "weekly-briefing"),
        ("12-01 09:00", "monthly-circular"),
    ]
    circular = found[1]
    assert circular.note == "11月1日（周日）为周末，顺延至11月2日（周一）"
    assert {o.subject for o in found if o.job == "deadline-reminder"} == {"2026-10"}
    assert all(o.at.tzinfo is SHANGHAI for o in found)


def test_national_day_stretch_2026() -> None:
    found = planner().occurrences(date(2026, 9, 28), date(2026, 10, 12))
    assert table(found) == [
        ("09-28 09:00", "weekly-briefing"),
        ("09-28 09:00", "overdue-notice"),  # 25 September is Mid-Autumn: the day after, too, is off
        ("10-08 09:00", "weekly-briefing"),  # Monday 5 October is National Day: Thursday 8 October
        ("10-08 09:00", "monthly-circular"),  # 1 October shifted to the first working day
        ("10-12 09:00", "weekly-briefing"),
    ]
    briefing = found[2]
    assert briefing.nominal == date(2026, 10, 5)
    assert briefing.note == "10月5日（周一）为国庆节，顺延至本周第一个工作日10月8日（周四）"
    assert found[3].note == "10月1日（周四）为国庆节，顺延至10月8日（周四）"
    # Saturday 10 October is worked, but nothing is due on it.
    assert all(o.at.date() != date(2026, 10, 10) for o in found)


def test_holiday_policies_skip_and_keep() -> None:
    skipping = planner(
        weekly_briefing=JobSettings(holiday_policy="skip"), monthly_circular=JobSettings(holiday_policy="skip")
    )
    found = skipping.occurrences(date(2026, 10, 1), date(2026, 10, 11))
    skipped = [o for o in found if o.skipped]
    assert [(o.job, o.nominal) for o in skipped] == [
        ("monthly-circular", date(2026, 10, 1)),
        ("weekly-briefing", date(2026, 10, 5)),
    ]
    assert skipped[1].note == "10月5日（周一）为国庆节，按设置本周不发送"
    assert table(found) == []
    keeping = planner(weekly_briefing=JobSettings(holiday_policy="keep"))
    (kept,) = [o for o in keeping.occurrences(date(2026, 10, 5), date(2026, 10, 11)) if o.job == "weekly-briefing"]
    assert kept.at == datetime(2026, 10, 5, 9, tzinfo=SHANGHAI)
    assert "按设置照常发送" in kept.note


def test_a_week_without_working_days_has_no_briefing_and_the_next_covers_it() -> None:
    found = planner().occurrences(date(2026, 2, 16), date(2026, 2, 27), jobs=["weekly-briefing"])
    assert [(o.nominal, o.skipped, o.at.date()) for o in found] == [
        (date(2026, 2, 16), True, date(2026, 2, 16)),
        (date(2026, 2, 23), False, date(2026, 2, 24)),
    ]
    assert "没有工作日" in found[0].note


def test_configured_times_and_disabled_jobs() -> None:
    found = planner(
        weekly_briefing=JobSettings(at=time(8, 30)),
        monthly_circular=JobSettings(enabled=False),
        deadline_reminder=ReminderSettings(days_before=(3,), deadline_day_at=(time(16, 0),)),
        overdue_notice=JobSettings(enabled=False),
    ).occurrences(date(2026, 11, 16), date(2026, 12, 1))
    assert table(found) == [
        ("11-16 08:30", "weekly-briefing"),
        ("11-20 09:30", "deadline-reminder"),
        ("11-23 08:30", "weekly-briefing"),
        ("11-25 16:00", "deadline-reminder"),
        ("11-30 08:30", "weekly-briefing"),
    ]


def test_reminders_when_the_deadline_is_a_sunday() -> None:
    """25 October 2026 is a Sunday: by default the deadline stays and its day's reminders move to Friday."""
    found = reminders_for(planner(), Period(2026, 9))
    assert [(o.at.strftime("%m-%d %H:%M"), o.skipped) for o in found] == [
        ("10-19 09:30", False),
        ("10-22 09:30", False),
        ("10-23 09:30", False),  # the 1st working day before, merged with the deadline day's 09:30
        ("10-23 15:00", False),
    ]
    assert found[2].note == "截止日前第1个工作日；截止日10月25日（周日）为周末，截止日当天的提醒提前至10月23日（周五）"
    kept = reminders_for(planner(deadline_reminder=ReminderSettings(holiday_policy="keep")), Period(2026, 9))
    assert [o.at.strftime("%m-%d %H:%M") for o in kept][-2:] == ["10-25 09:30", "10-25 15:00"]
    skipped = reminders_for(planner(deadline_reminder=ReminderSettings(holiday_policy="skip")), Period(2026, 9))
    assert [(o.at.strftime("%m-%d %H:%M"), o.skipped) for o in skipped][-2:] == [
        ("10-25 09:30", True),
        ("10-25 15:00", True),
    ]


@pytest.mark.parametrize(
    ("deadline_policy", "due", "reminders", "overdue"),
    [
        ("keep", date(2026, 10, 25), ["10-19", "10-22", "10-23", "10-23"], "10-26"),
        ("previous", date(2026, 10, 23), ["10-16", "10-21", "10-22", "10-23", "10-23"], "10-26"),
        ("next", date(2026, 10, 26), ["10-19", "10-22", "10-23", "10-26", "10-26"], "10-27"),
    ],
)
def test_deadline_policy_moves_the_deadline_and_everything_after_it(
    deadline_policy: str, due: date, reminders: list[str], overdue: str
) -> None:
    office = planner(deadline_policy=deadline_policy)
    assert office.policy.deadline.due_date(Period(2026, 9)) == due
    assert office.policy.deadline.deadline(Period(2026, 9)) == datetime.combine(due, time(23, 59, 59), SHANGHAI)
    assert [o.at.strftime("%m-%d") for o in reminders_for(office, Period(2026, 9))] == reminders
    assert overdue_for(office, Period(2026, 9)).at.strftime("%m-%d") == overdue
    if deadline_policy != "keep":
        assert "截止日10月25日（周日）为周末，按设置" in reminders_for(office, Period(2026, 9))[0].note


def test_2027_uses_the_statutory_holidays() -> None:
    found = planner().occurrences(date(2026, 12, 28), date(2027, 2, 14))
    january = [o for o in found if o.job == "monthly-circular" and o.subject == "2027-01"]
    assert january[0].at == datetime(2027, 1, 4, 9, tzinfo=SHANGHAI)
    assert "元旦（按法定节假日规则推算）" in january[0].note
    spring = [o for o in found if o.job == "weekly-briefing" and o.nominal == date(2027, 2, 8)]
    assert spring[0].at.date() == date(2027, 2, 11)  # 8 to 10 February are Spring Festival days by rule


def test_what_an_occurrence_is_about() -> None:
    office = planner()
    assert reminder_period(office, datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)) == Period(2026, 10)
    assert reminder_period(office, datetime(2026, 11, 25, 15, tzinfo=SHANGHAI)) == Period(2026, 10)
    assert reminder_period(office, datetime(2026, 11, 26, 9, tzinfo=SHANGHAI)) == Period(2026, 11)
    assert overdue_period(office, datetime(2026, 11, 26, 9, tzinfo=SHANGHAI)) == Period(2026, 10)
    assert overdue_period(office, datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)) == Period(2026, 10)
    assert overdue_period(office, datetime(2027, 1, 4, 9, tzinfo=SHANGHAI)) == Period(2026, 11)


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/duban.db"\n'
        '[[groups]]\nname = "强省会工作机制群"\nplatform = "sandbox"\n' + extra,
        encoding="utf-8",
    )
    return path


def test_jobs_list_json_is_the_planner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(  # as planner() has it
        tmp_path,
        "[schedules.item-reminder]\nenabled = false\n[schedules.round-reminder]\nenabled = false\n"
        "[schedules.meeting-reminder]\nenabled = false\n",
    )
    assert main(["--config", str(config), "jobs", "list", "--from", "2026-09-28", "--days", "15", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    expected = planner().occurrences(date(2026, 9, 28), date(2026, 10, 12))
    assert [(item["job"], item["at"], item["note"]) for item in listed] == [
        (o.job, o.at.isoformat(), o.note) for o in expected
    ]
    assert listed[2]["at"] == "2026-10-08T09:00:00+08:00"
    assert listed[2]["job"] == "weekly-briefing"


def test_jobs_list_text_explains_the_holidays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "[schedules.overdue-notice]\nenabled = false\n")
    assert main(["--config", str(config), "jobs", "list", "--from", "2026-09-28", "--days", "15"]) == 0
    out = capsys.readouterr().out
    assert "10月1日（周四）至10月7日（周三）  国庆节" in out
    assert "10月10日（周六）  调休上班（国庆节）" in out
    assert "10月8日（周四）09:00  每周工作通报（weekly-briefing）  —— 10月5日（周一）为国庆节" in out
    assert "已停用：逾期未报名单" in out
    assert "overdue-notice" not in out.split("已停用")[1]


def test_jobs_list_warns_about_an_unofficial_year(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert main(["--config", str(config), "jobs", "list", "--from", "2026-12-20", "--days", "20"]) == 0
    out = capsys.readouterr().out
    assert "尚未收录国务院办公厅公布的2027年节假日安排" in out
    assert "1月1日（周五）  元旦（按法定节假日规则推算）" in out
    assert "1月4日（周一）09:00  月度工作通报" in out


def test_jobs_list_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert main(["--config", str(config), "jobs", "list", "--days", "0"]) == 1
    assert "--days" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--config", str(config), "jobs", "list", "--from", "10/1"])
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_the_scheduler_plans_exactly_what_jobs_list_shows(sqlite_url: str) -> None:
    """Planning every day of the National Day stretch yields the listed, not-skipped occurrences."""
    db = Database(sqlite_url)
    scheduler = JobScheduler(JobContext.create(db, policy(), "test"))
    start = datetime(2026, 9, 27, 0, 5, tzinfo=SHANGHAI)
    for day in range(16):
        scheduler.plan(start + timedelta(days=day))
    # Before the scheduler starts, re-planned jobs wait in a list; ``replace_existing`` folds them at start.
    by_id = {job.id: job for job in scheduler.scheduler.get_jobs()}
    planned = sorted((job.trigger.run_date, job.args[0]) for job in by_id.values())
    listed = [
        (o.at, o.job) for o in planner().occurrences(date(2026, 9, 27), date(2026, 10, 12) + HORIZON) if not o.skipped
    ]
    assert planned == sorted(listed)
    for job in by_id.values():
        assert job.id == f"{job.args[0]}:{job.args[1].isoformat()}"
        assert job.misfire_grace_time == 6 * 3600
        assert job.coalesce is True
        assert str(job.trigger.run_date.tzinfo) == "Asia/Shanghai"
