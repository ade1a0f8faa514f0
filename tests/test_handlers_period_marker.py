import pytest

from handlers.period_marker import leading_marker, months_between, parse_period
from storage.periods import Period

NOVEMBER_2026 = Period(2026, 11)


@pytest.mark.parametrize(
    ("text", "period", "rest"),
    [
        ("10月：开展招商活动", "2026-10", "开展招商活动"),
        ("10月份工作进展", "2026-10", "工作进展"),
        ("2026年10月 工作进展", "2026-10", "工作进展"),
        ("2026年10月份，完成", "2026-10", "完成"),
        ("2026-10 完成", "2026-10", "完成"),
        ("2026.10完成", "2026-10", "完成"),
        ("2026/10：完成", "2026-10", "完成"),
        ("【10月】完成", "2026-10", "完成"),
        ("［2026-09］完成", "2026-09", "完成"),
        ("１０月：完成", "2026-10", "完成"),
        ("２０２６年１０月：完成", "2026-10", "完成"),
        ("２０２６－０９ 完成", "2026-09", "完成"),
        ("十月份工作", "2026-10", "工作"),
        ("十二月：完成", "2025-12", "完成"),
        ("9月\n1、召开会议", "2026-09", "1、召开会议"),
        ("2025年12月：完成", "2025-12", "完成"),
    ],
)
def test_leading_markers(text: str, period: str, rest: str) -> None:
    marker = leading_marker(text)
    assert marker is not None
    assert str(marker.resolve(NOVEMBER_2026)) == period
    assert text[marker.end :] == rest


@pytest.mark.parametrize(
    "text",
    [
        "10月15日召开专题会议",
        "2026年10月15日召开专题会议",
        "2026-10-15召开会议",
        "10月 15日召开会议",
        "十月十五日召开会议",
        "13月",
        "0月",
        "本月完成",
        "统计数据显示",
        "1010月",
    ],
)
def test_texts_that_start_with_no_period(text: str) -> None:
    assert leading_marker(text) is None


def test_bare_month_is_the_most_recent_such_month() -> None:
    january = Period(2027, 1)
    assert str(leading_marker("12月").resolve(january)) == "2026-12"  # type: ignore[union-attr]
    assert str(leading_marker("1月").resolve(january)) == "2027-01"  # type: ignore[union-attr]
    assert str(leading_marker("2月").resolve(january)) == "2026-02"  # type: ignore[union-attr]


def test_parse_period_for_commands() -> None:
    assert parse_period("2026-09", NOVEMBER_2026) == Period(2026, 9)
    assert parse_period(" 9月 ", NOVEMBER_2026) == Period(2026, 9)
    with pytest.raises(ValueError, match="未能识别期别"):
        parse_period("9月的", NOVEMBER_2026)
    with pytest.raises(ValueError, match="未能识别期别"):
        parse_period("上个月", NOVEMBER_2026)


def test_months_between() -> None:
    assert months_between(Period(2025, 10), Period(2026, 10)) == 12
    assert months_between(Period(2026, 11), Period(2026, 10)) == -1
