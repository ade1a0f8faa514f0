"""The working calendar: official holidays and make-up days, the office's overrides, the rule-based fallback."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.calendar import WorkCalendar
from schedules.dates import day_label, moment_label, span_label, week_key
from schedules.settings import ScheduleSettings, deadline_shift

CAL = WorkCalendar()


@pytest.mark.parametrize("day", [date(2026, 10, d) for d in range(1, 8)])
def test_national_day_2026_is_seven_days_off(day: date) -> None:
    info = CAL.explain(day)
    assert not info.workday
    assert info.reason == "国庆节"
    assert info.source == "official"


def test_saturday_10_october_2026_is_a_make_up_workday() -> None:
    info = CAL.explain(date(2026, 10, 10))
    assert date(2026, 10, 10).weekday() == 5
    assert info.workday
    assert info.reason == "调休上班（国庆节）"
    assert CAL.is_workday(date(2026, 9, 20))  # the Sunday before, also worked
    assert not CAL.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    assert CAL.explain(date(2026, 10, 11)).reason == "周末"


def test_ordinary_days() -> None:
    assert CAL.explain(date(2026, 11, 25)).reason == "工作日"
    assert CAL.is_workday(date(2026, 11, 25))
    assert not CAL.is_workday(date(2026, 11, 28))


def test_workday_arithmetic_around_national_day() -> None:
    assert CAL.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert CAL.previous_workday(date(2026, 10, 8)) == date(2026, 9, 30)
    assert CAL.workday_on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)
    assert CAL.workday_on_or_before(date(2026, 10, 11)) == date(2026, 10, 10)
    assert CAL.nth_workday_before(date(2026, 10, 12), 1) == date(2026, 10, 10)
    assert CAL.nth_workday_before(date(2026, 10, 12), 4) == date(2026, 9, 30)
    assert CAL.first_workday_of_week(date(2026, 10, 7)) == date(2026, 10, 8)
    assert CAL.first_workday_of_week(date(2026, 11, 18)) == date(2026, 11, 16)
    assert CAL.workdays_between(date(2026, 10, 5), date(2026, 10, 11)) == [
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
    ]
    with pytest.raises(ValueError):
        CAL.nth_workday_before(date(2026, 10, 12), 0)


def test_a_week_without_a_working_day_has_no_first_workday() -> None:
    """Spring Festival 2026: 15 to 23 February off; the week of 16 February has no working day."""
    assert CAL.first_workday_of_week(date(2026, 2, 16)) is None
    assert CAL.first_workday_of_week(date(2026, 2, 23)) == date(2026, 2, 24)


def test_2026_is_official_and_2027_is_not() -> None:
    assert CAL.is_official(2026)
    assert not CAL.is_official(2027)
    assert CAL.unofficial_years(date(2026, 11, 20), date(2027, 1, 4)) == [2027]
    assert CAL.unofficial_years(date(2026, 1, 1), date(2026, 12, 31)) == []


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2027, 1, 1), "元旦"),
        (date(2027, 2, 6), "春节"),
        (date(2027, 2, 8), "春节"),
        (date(2027, 5, 1), "劳动节"),
        (date(2027, 10, 1), "国庆节"),
    ],
)
def test_2027_falls_back_to_statutory_holidays_by_rule(day: date, reason: str) -> None:
    info = CAL.explain(day)
    assert not info.workday
    assert info.source == "rule"
    assert info.reason.startswith(reason)
    assert "按法定节假日规则推算" in info.reason


def test_2027_fallback_is_never_a_plain_weekday_rule() -> None:
    # Friday 1 January 2027 would be a working day by weekdays alone.
    assert date(2027, 1, 1).weekday() == 4
    assert not CAL.is_workday(date(2027, 1, 1))
    assert CAL.workday_on_or_after(date(2027, 1, 1)) == date(2027, 1, 4)
    # Ordinary days and weekends of 2027 behave as expected; no make-up days are known.
    assert CAL.is_workday(date(2027, 1, 5))
    assert not CAL.is_workday(date(2027, 1, 9))
    assert CAL.explain(date(2027, 1, 9)).reason == "周末"


def test_office_overrides_win_over_every_other_source() -> None:
    calendar = WorkCalendar(extra_holidays=[date(2026, 12, 31)], extra_workdays=[date(2027, 2, 7), date(2026, 10, 3)])
    assert not calendar.is_workday(date(2026, 12, 31))
    assert calendar.explain(date(2026, 12, 31)).reason == "办公室设定的休息日"
    assert calendar.is_workday(date(2027, 2, 7))  # a make-up Sunday the office learned of before the package
    assert calendar.explain(date(2027, 2, 7)).source == "office"
    assert calendar.is_workday(date(2026, 10, 3))
    assert calendar.next_workday(date(2026, 12, 30)) == date(2027, 1, 4)


def test_a_day_listed_both_ways_is_refused() -> None:
    with pytest.raises(ValueError, match="2026-12-31"):
        WorkCalendar(extra_holidays=[date(2026, 12, 31)], extra_workdays=[date(2026, 12, 31)])


def test_a_calendar_without_working_days_is_reported_not_looped() -> None:
    start = date(2026, 11, 2)
    calendar = WorkCalendar(extra_holidays=[start + timedelta(days=n) for n in range(200)])
    with pytest.raises(ValueError, match="没有工作日"):
        calendar.next_workday(start)


def test_deadline_policies() -> None:
    sunday = date(2026, 10, 25)
    assert deadline_shift(CAL, "keep") is None
    previous = deadline_shift(CAL, "previous")
    following = deadline_shift(CAL, "next")
    assert previous is not None and following is not None
    assert previous(sunday) == date(2026, 10, 23)
    assert following(sunday) == date(2026, 10, 26)
    assert previous(date(2026, 11, 25)) == date(2026, 11, 25)
    office = ScheduleSettings(extra_holidays=frozenset({date(2026, 11, 25)})).calendar()
    assert office.explain(date(2026, 11, 25)).reason == "办公室设定的休息日"


def test_dates_are_written_as_offices_write_them() -> None:
    assert day_label(date(2026, 11, 25)) == "11月25日（周三）"
    assert day_label(date(2026, 11, 25), year=True) == "2026年11月25日（周三）"
    shanghai = ZoneInfo("Asia/Shanghai")
    assert moment_label(datetime(2026, 11, 25, 1, 30, tzinfo=UTC), shanghai) == "11月25日（周三）09:30"
    assert span_label(date(2026, 11, 2), date(2026, 11, 8)) == "11月2日至11月8日"
    assert span_label(date(2026, 12, 28), date(2027, 1, 3)) == "2026年12月28日至2027年1月3日"
    assert week_key(date(2026, 11, 4)) == "2026-W45"
    assert week_key(date(2027, 1, 1)) == "2026-W53"
