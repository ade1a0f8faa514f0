"""Holidays and make-up working days over a span, as the office reads them in the job plan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from schedules.dates import day_label

if TYPE_CHECKING:
    from schedules.calendar import DayInfo, WorkCalendar


def special_days(calendar: WorkCalendar, start: date, end: date) -> list[str]:
    """Holidays (runs of days with one reason) and make-up workdays between ``start`` and ``end``."""
    runs: list[tuple[date, date, DayInfo]] = []
    day = start
    while day <= end:
        info = calendar.explain(day)
        if info.source != "weekday":
            if runs and runs[-1][2].reason == info.reason and runs[-1][1] + timedelta(days=1) == day:
                runs[-1] = (runs[-1][0], day, info)
            else:
                runs.append((day, day, info))
        day += timedelta(days=1)
    texts = []
    for first, last, info in runs:
        span = day_label(first) if first == last else f"{day_label(first)}至{day_label(last)}"
        texts.append(f"{span}  {info.reason}")
    return texts
