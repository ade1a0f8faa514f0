"""The Chinese working calendar the jobs run by.

Three layers, the first that knows a day decides:

1. the office's own lists (``extra_workdays`` / ``extra_holidays`` in ``[schedules]``);
2. the State Council's published schedule as packaged by ``chinesecalendar``: holidays *and* the 调休
   make-up workdays on weekends;
3. for a year ``chinesecalendar`` does not cover yet, the statutory holidays computed by rule from the
   ``holidays`` package's China calendar (which knows 1 January, the Spring Festival, 1 October… but
   not the make-up days), then weekends.

A plain weekday rule is never used alone: it would post a circular on New Year's Day. Layer 3 is flagged
(:meth:`WorkCalendar.is_official`) so that the office can be told once that a year's schedule is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import chinese_calendar

from schedules.dates import day_label

Source = Literal["office", "official", "rule", "weekday"]

# The State Council's holiday names by chinesecalendar's ``Holiday`` member names.
_CHINESE_NAMES = {
    "new_years_day": "元旦",
    "spring_festival": "春节",
    "tomb_sweeping_day": "清明节",
    "labour_day": "劳动节",
    "dragon_boat_festival": "端午节",
    "national_day": "国庆节",
    "mid_autumn_festival": "中秋节",
    "anti_fascist_70th_day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
# ``get_holiday_detail`` answers with the member's value (an English name).
_OFFICIAL_NAMES = {member.value: _CHINESE_NAMES.get(member.name, member.value) for member in chinese_calendar.Holiday}

# No office closes for longer than this; a search that finds no working day within it has a bad config.
_SEARCH_LIMIT_DAYS = 120


@dataclass(frozen=True)
class DayInfo:
    """Whether a day is worked, why, and who said so."""

    day: date
    workday: bool
    reason: str  # 工作日、周末、国庆节、调休上班（国庆节）、办公室设定的休息日…
    source: Source

    @property
    def label(self) -> str:
        return day_label(self.day)


@functools.cache
def _official_year(year: int) -> bool:
    """Whether chinesecalendar carries the State Council's schedule for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@functools.cache
def _rule_holidays(year: int) -> dict[date, str]:
    """Statutory holidays of ``year`` by rule (no make-up workdays), named in Chinese."""
    import holidays  # only for years chinesecalendar does not carry yet: loading it costs every command

    rule = holidays.country_holidays("CN", years=year, language="zh_CN")
    return {day: str(name) for day, name in rule.items()}


class WorkCalendar:
    """Working days for one office: the official schedule plus the office's overrides."""

    def __init__(self, *, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = "、".join(day.isoformat() for day in sorted(both))
            raise ValueError(f"{listed} 同时列为休息日和工作日")

    def is_official(self, year: int) -> bool:
        """Whether ``year``'s official holiday schedule (with make-up days) is known."""
        return _official_year(year)

    def unofficial_years(self, start: date, end: date) -> list[int]:
        """Years between ``start`` and ``end`` (inclusive) whose official schedule is missing."""
        return [year for year in range(start.year, end.year + 1) if not self.is_official(year)]

    def explain(self, day: date) -> DayInfo:
        """Whether ``day`` is a working day, with the reason an office would give."""
        if day in self.extra_workdays:
            return DayInfo(day, True, "办公室设定的工作日", "office")
        if day in self.extra_holidays:
            return DayInfo(day, False, "办公室设定的休息日", "office")
        weekend = day.weekday() >= 5
        if self.is_official(day.year):
            on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
            name = _OFFICIAL_NAMES.get(holiday, str(holiday)) if holiday else ""
            if on_holiday:
                return DayInfo(day, False, name or "周末", "official" if name else "weekday")
            if weekend:
                return DayInfo(day, True, f"调休上班（{name}）" if name else "调休上班", "official")
            return DayInfo(day, True, "工作日", "weekday")
        rule_name = _rule_holidays(day.year).get(day)
        if rule_name:
            return DayInfo(day, False, f"{rule_name}（按法定节假日规则推算）", "rule")
        if weekend:
            return DayInfo(day, False, "周末", "weekday")
        return DayInfo(day, True, "工作日", "weekday")

    def is_workday(self, day: date) -> bool:
        return self.explain(day).workday

    def next_workday(self, day: date) -> date:
        """The first working day after ``day``."""
        return self.workday_on_or_after(day + timedelta(days=1))

    def previous_workday(self, day: date) -> date:
        """The last working day before ``day``."""
        return self.workday_on_or_before(day - timedelta(days=1))

    def workday_on_or_after(self, day: date) -> date:
        for offset in range(_SEARCH_LIMIT_DAYS):
            candidate = day + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise ValueError(f"{day.isoformat()} 之后 {_SEARCH_LIMIT_DAYS} 天内没有工作日，请检查 extra_holidays 配置")

    def workday_on_or_before(self, day: date) -> date:
        for offset in range(_SEARCH_LIMIT_DAYS):
            candidate = day - timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise ValueError(f"{day.isoformat()} 之前 {_SEARCH_LIMIT_DAYS} 天内没有工作日，请检查 extra_holidays 配置")

    def nth_workday_before(self, day: date, n: int) -> date:
        """The ``n``-th working day before ``day`` (``n`` = 1 is the last working day before it)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        current = day
        for _ in range(n):
            current = self.previous_workday(current)
        return current

    def first_workday_of_week(self, day: date) -> date | None:
        """The first working day of the Monday-to-Sunday week holding ``day``; ``None`` if the week has none."""
        monday = day - timedelta(days=day.weekday())
        for offset in range(7):
            candidate = monday + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        return None

    def workdays_between(self, start: date, end: date) -> list[date]:
        """Working days from ``start`` to ``end`` inclusive."""
        days = []
        current = start
        while current <= end:
            if self.is_workday(current):
                days.append(current)
            current += timedelta(days=1)
        return days
