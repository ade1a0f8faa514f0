"""``[schedules]`` in the configuration: job names as keys, environment overrides, refusals with reasons."""

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.policy import policy_from_settings
from schedules.settings import ScheduleSettings
from storage.periods import Period

GROUPS = (
    '[[groups]]\nname = "强省会工作机制群"\nplatform = "sandbox"\n'
    '[[groups]]\nname = "办公室"\nplatform = "sandbox"\noffice = true\n'
)


def settings_from(tmp_path: Path, text: str) -> ScheduleSettings:
    path = tmp_path / "duban.toml"
    path.write_text(GROUPS + text, encoding="utf-8")
    return load_settings(path).schedules


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "duban.toml"
    path.write_text(GROUPS + text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def test_defaults_are_the_issues() -> None:
    assert Settings().schedules == ScheduleSettings()
    defaults = ScheduleSettings()
    assert defaults.weekly_briefing.at == time(9, 0)
    assert defaults.deadline_reminder.days_before == (5, 2, 1)
    assert defaults.deadline_reminder.deadline_day_at == (time(9, 30), time(15, 0))
    assert defaults.catchup_grace == timedelta(hours=6)
    assert defaults.deadline_policy == "keep"
    assert {defaults.weekly_briefing.holiday_policy, defaults.monthly_circular.holiday_policy} == {"shift"}


def test_every_key(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    found = settings_from(
        tmp_path,
        f"""
[schedules]
deadline_policy = "next"
catchup_grace_hours = 3.5
templates_dir = "{templates}"
extra_holidays = [2026-12-31]
extra_workdays = [2027-02-07]

[schedules.weekly-briefing]
at = "08:30"
groups = ["强省会工作机制群", "办公室"]
holiday_policy = "skip"

[schedules.monthly-circular]
enabled = false

[schedules.deadline-reminder]
days_before = [3, 1]
deadline_day_at = ["10:00", 16:00:00]
holiday_policy = "keep"

[schedules.overdue-notice]
groups = ["办公室"]
""",
    )
    assert found.weekly_briefing.at == time(8, 30)
    assert found.weekly_briefing.groups == ("强省会工作机制群", "办公室")
    assert found.weekly_briefing.holiday_policy == "skip"
    assert not found.monthly_circular.enabled
    assert found.deadline_reminder.days_before == (3, 1)
    assert found.deadline_reminder.deadline_day_at == (time(10, 0), time(16, 0))
    assert found.overdue_notice.groups == ("办公室",)
    assert found.catchup_grace == timedelta(hours=3.5)
    assert found.templates_dir == templates
    assert found.calendar().explain(date(2026, 12, 31)).reason == "办公室设定的休息日"
    assert found.calendar().is_workday(date(2027, 2, 7))


def test_environment_overrides_with_underscored_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_SCHEDULES__MONTHLY_CIRCULAR__ENABLED", "false")
    monkeypatch.setenv("DUBAN_SCHEDULES__CATCHUP_GRACE_HOURS", "2")
    found = settings_from(tmp_path, '[schedules.monthly-circular]\nat = "08:00"\n')
    assert not found.monthly_circular.enabled
    assert found.monthly_circular.at == time(8, 0)
    assert found.catchup_grace == timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[schedules.weekly-briefing]\ngroups = ["不存在的群"]\n', "群「不存在的群」未在 [[groups]] 中配置"),
        ("[schedules]\nextra_holidays = [2026-12-31]\nextra_workdays = [2026-12-31]\n", "2026-12-31 同时列在"),
        ('[schedules.weekly-briefing]\nholiday_policy = "later"\n', "schedules.weekly-briefing.holiday_policy"),
        ('[schedules]\ndeadline_policy = "never"\n', "schedules.deadline_policy"),
        ("[schedules.deadline-reminder]\ndays_before = [5, 5]\n", "互不重复"),
        ('[schedules]\ntemplates_dir = "/no/such/dir"\n', "目录不存在"),
        ("[schedules.weekly_briefng]\nenabled = false\n", "未知的配置项"),
        ('[schedules.weekly-briefing]\nat = "25:00"\n', "schedules.weekly-briefing.at"),
    ],
)
def test_bad_values_are_refused_with_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert any(expected in problem for problem in problems(tmp_path, text))


def test_the_policy_carries_the_settings_and_the_deadline_policy(tmp_path: Path) -> None:
    path = tmp_path / "duban.toml"
    path.write_text(GROUPS + '[schedules]\ndeadline_policy = "previous"\n', encoding="utf-8")
    policy = policy_from_settings(load_settings(path))
    assert policy.schedules.deadline_policy == "previous"
    assert policy.deadline.due_date(Period(2026, 9)) == date(2026, 10, 23)  # the 25th is a Sunday
    assert policy.deadline.nominal_due_date(Period(2026, 9)) == date(2026, 10, 25)
