"""Reading a reporting period out of what a person wrote: ``10月``, ``2026年10月``, ``2026-10``, ``【十月】``…

A liaison may start a report with the period it covers; an office member names one after a command
(``统计 9月``). Digits may be full-width (``１０月``) and the marker may sit in brackets. A marker must stand
alone: ``10月15日召开…`` starts with a date, not a period, and is left as ordinary text.

A month written without a year is the most recent such month not after the current month: in January,
``12月`` is last December; in November, ``11月`` is this November (which a report then refuses as not yet
open, rather than filing it silently under the November of a year ago).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.periods import Period

_CN_MONTHS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
    "元": 1,
}

_OPEN = r"[【\[［(（〔]?"
_CLOSE = r"[】\]］)）〕]?"
_SEP = r"[-－—.．/／]"
_CN_MONTH = r"十二|十一|十|[一二三四五六七八九元]"
# The period, then nothing that would make it a date (a day number, 日/号, or another separator and digits).
_MARKER = re.compile(
    rf"""
    {_OPEN}\s*
    (?:
        (?P<year1>\d{{4}})\s*年\s*(?P<month1>\d{{1,2}}|{_CN_MONTH})\s*月份?
      | (?P<year2>\d{{4}})\s*{_SEP}\s*(?P<month2>\d{{1,2}})(?!\d)
      | (?P<month3>\d{{1,2}}|{_CN_MONTH})\s*月份?
    )
    \s*{_CLOSE}
    (?![^\S\r\n]*(?:\d|[一二三四五六七八九十]+[^\S\r\n]*[日号]|{_SEP}[^\S\r\n]*\d))
    """,
    re.VERBOSE,
)
_AFTER = re.compile(r"[\s:：,，、.。;；]*")


@dataclass(frozen=True)
class Marker:
    """A period named at the start of a text: its year (``None`` when only a month was written) and month."""

    year: int | None
    month: int
    end: int  # where the text after the marker (and its punctuation) begins

    def resolve(self, current: Period) -> Period:
        """The period meant, for a text written during the month ``current``."""
        if self.year is not None:
            return Period(self.year, self.month)
        year = current.year if self.month <= current.month else current.year - 1
        return Period(year, self.month)


def _month(text: str) -> int:
    return _CN_MONTHS[text] if text in _CN_MONTHS else int(text)


def leading_marker(text: str) -> Marker | None:
    """The period marker ``text`` starts with, if any (the month must be 1–12, the year plausible)."""
    found = _MARKER.match(text)
    if found is None:
        return None
    year_text = found["year1"] or found["year2"]
    month = _month(found["month1"] or found["month2"] or found["month3"])
    year = int(year_text) if year_text else None
    if not 1 <= month <= 12 or (year is not None and not 2000 <= year <= 2999):
        return None
    after = _AFTER.match(text, found.end())
    return Marker(year=year, month=month, end=after.end() if after else found.end())


def parse_period(text: str, current: Period) -> Period:
    """A period given on its own (a command's argument); ``ValueError`` with a Chinese reason otherwise."""
    stripped = text.strip()
    marker = leading_marker(stripped)
    if marker is None or stripped[marker.end :].strip():
        raise ValueError(f"未能识别期别“{stripped}”，请写作 2026-10、2026年10月 或 10月。")
    return marker.resolve(current)


def months_between(earlier: Period, later: Period) -> int:
    """How many months ``later`` is after ``earlier`` (negative when it is before)."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month
