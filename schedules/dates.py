"""Dates and times written the way an office writes them: 11月25日（周三）、11月25日（周三）09:30."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def weekday_label(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def day_label(day: date, *, year: bool = False) -> str:
    """11月25日（周三）, or 2026年11月25日（周三） with ``year``."""
    prefix = f"{day.year}年" if year else ""
    return f"{prefix}{day.month}月{day.day}日（{weekday_label(day)}）"


def moment_label(moment: datetime, tz: ZoneInfo, *, year: bool = False) -> str:
    """11月25日（周三）09:30 in the office's zone."""
    local = moment.astimezone(tz)
    return f"{day_label(local.date(), year=year)}{local:%H:%M}"


def span_label(first: date, last: date) -> str:
    """11月2日至11月8日 (the year is written only when the span crosses one)."""
    if first.year != last.year:
        return f"{first.year}年{first.month}月{first.day}日至{last.year}年{last.month}月{last.day}日"
    return f"{first.month}月{first.day}日至{last.month}月{last.day}日"


def week_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_key(day: date) -> str:
    """The ISO week holding ``day``, as ``2026-W45`` (sorts in time order)."""
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
