"""Meetings on the working calendar: the days each declared series (``[[schedules.meetings]]``) falls on, when its
notice goes out, when 回执 are due, and the notice's text — shared by the ``会议`` command and the meeting jobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schedules.calendar import WorkCalendar
from schedules.dates import day_label, moment_label

if TYPE_CHECKING:
    from storage.outbound import OutboundMessage

MeetingMove = Literal["next", "previous", "skip", "keep"]
"""Where a declared meeting whose day is not a working day goes: the next or the previous working day, nowhere
(not held that time), or nowhere else (held on the day)."""


class MeetingSeries(BaseModel):
    """``[[schedules.meetings]]``: a recurring meeting (一周一会商、一月一调度、双月一汇报), posted as a 会议 notice
    ``notice_workdays`` working days ahead.

    Weekly: ``weekday`` (1 = 周一) every ``every_weeks`` weeks; monthly: ``day`` of the month (the month's last day
    when it is shorter) every ``every_months`` months. ``start`` is the first day the series may fall on and fixes
    which weeks or months count (without it: weeks from 2026-01-05, months from January). ``groups``: where it is
    posted (empty: every member group); when one group is named, the units asked are that group's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60)
    weekday: int | None = Field(default=None, ge=1, le=7)
    every_weeks: int = Field(default=1, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    every_months: int = Field(default=1, ge=1, le=12)
    start: date | None = None
    at: time = time(15, 0)
    place: str = Field(default="", max_length=200)
    attendees: str = Field(default="", max_length=200)
    notice_workdays: int = Field(default=3, ge=1, le=20)
    groups: tuple[str, ...] = ()
    holiday_policy: MeetingMove = "next"

    @model_validator(mode="after")
    def _weekly_or_monthly(self) -> MeetingSeries:
        if (self.weekday is None) == (self.day is None):
            raise ValueError("weekday（每周几）与 day（每月几日）应且只应设置其一")
        return self


RECEIPT_AT = time(18, 0)  # 回执 are due by the close of the working day before the meeting
WEEKS_FROM = date(2026, 1, 5)  # a Monday: "every 2 weeks" counts weeks from here unless the series has a start
SEARCH_MARGIN = timedelta(days=62)  # a notice up to 20 working days ahead, and a meeting moved over a long holiday


@dataclass(frozen=True)
class PlannedMeeting:
    """One meeting of a declared series: the day its rule names, and when it is held and noticed."""

    series: MeetingSeries
    nominal: date
    starts: datetime  # aware, in the office's zone
    notice_at: datetime
    note: str = ""  # why it moved, when it did

    @property
    def code(self) -> str:
        """The round's code: stable for (series, nominal day), so a re-run finds the meeting already posted."""
        digest = hashlib.blake2s(self.series.title.encode(), digest_size=4).hexdigest().upper()
        return f"M{self.nominal:%y%m%d}{digest}"


def receipt_due(calendar: WorkCalendar, starts: datetime) -> datetime:
    """18:00 of the working day before the meeting, or an hour before it when that is earlier."""
    before = calendar.previous_workday(starts.date())
    return min(datetime.combine(before, RECEIPT_AT, tzinfo=starts.tzinfo), starts - timedelta(hours=1))


def details(starts: datetime, place: str, attendees: str, tz: ZoneInfo) -> list[str]:
    lines = [f"时间：{moment_label(starts, tz)}"]
    lines += [f"地点：{place}"] if place else []
    lines += [f"参会：{attendees}"] if attendees else []
    return lines


def notice_body(title: str, lines: Sequence[str], due: datetime, number: int | None, tz: ZoneInfo) -> str:
    """The notice as posted (``number``) or previewed (``None``)."""
    marker = f"#{number}" if number is not None else "#编号"
    head = f"**会议通知{'#' + str(number) if number is not None else ''}：{title}**"
    ask = f"请各成员单位联络员于{moment_label(due, tz)}前回复回执“{marker} 参会人员：姓名、职务”。"
    return "\n".join([head, *lines, ask])


def notice_message(title: str, body: str, *, late: bool = False) -> OutboundMessage:
    from storage.outbound import OutboundMessage, addresses, office_links

    return OutboundMessage(body=office_links(body), title=f"会议通知：{title}", links=addresses(body), late_post=late)


def series_rule(series: MeetingSeries) -> str:
    """``周会商：每周二15:00，提前3个工作日通知`` — a declared series in the office's words."""
    if series.weekday is not None:
        weeks = "每周" if series.every_weeks == 1 else f"每{series.every_weeks}周的"
        when = f"{weeks}周{'一二三四五六日'[series.weekday - 1]}"
    else:
        months = "每月" if series.every_months == 1 else f"每{series.every_months}个月的"
        when = f"{months}{series.day}日"
    return f"{series.title}：{when}{series.at:%H:%M}，提前{series.notice_workdays}个工作日通知"


def _clamped(year: int, month: int, day: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day, (following - timedelta(days=1)).day))


def nominal_days(series: MeetingSeries, start: date, end: date) -> list[date]:
    """The days the series' rule names in ``[start, end]`` (before any holiday move)."""
    first = max(start, series.start) if series.start else start
    found: list[date] = []
    if series.weekday is not None:
        anchor = series.start or WEEKS_FROM
        anchor -= timedelta(days=anchor.weekday())  # the Monday of the anchor's week
        day = first + timedelta(days=(series.weekday - 1 - first.weekday()) % 7)
        while day <= end:
            if ((day - anchor).days // 7) % series.every_weeks == 0:
                found.append(day)
            day += timedelta(days=7)
        return found
    assert series.day is not None  # weekly or monthly, checked by the settings
    anchor_month = (series.start.year * 12 + series.start.month - 1) if series.start else 0
    year, month = first.year, first.month
    while date(year, month, 1) <= end:
        if (year * 12 + month - 1 - anchor_month) % series.every_months == 0:
            day = _clamped(year, month, series.day)
            if first <= day <= end:
                found.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _moved(calendar: WorkCalendar, series: MeetingSeries, nominal: date) -> tuple[date | None, str]:
    """The day the meeting is held (``None``: not this time) and why it moved."""
    if calendar.is_workday(nominal) or series.holiday_policy == "keep":
        return nominal, ""
    why = f"{day_label(nominal)}为{calendar.explain(nominal).reason}"
    if series.holiday_policy == "skip":
        return None, f"{why}，按设置本次不召开"
    moved = (
        calendar.workday_on_or_after(nominal)
        if series.holiday_policy == "next"
        else calendar.workday_on_or_before(nominal)
    )
    return moved, f"{why}，调整至{day_label(moved)}"


def planned_meetings(
    series_list: Sequence[MeetingSeries],
    calendar: WorkCalendar,
    tz: ZoneInfo,
    notice_time: time,
    start: date,
    end: date,
) -> list[PlannedMeeting]:
    """The declared meetings held from ``start`` to ``end`` (inclusive), earliest first."""
    found = []
    for series in series_list:
        for nominal in nominal_days(series, start - SEARCH_MARGIN, end + SEARCH_MARGIN):
            day, note = _moved(calendar, series, nominal)
            if day is None or not start <= day <= end:
                continue
            starts = datetime.combine(day, series.at, tzinfo=tz)
            noticed = datetime.combine(calendar.nth_workday_before(day, series.notice_workdays), notice_time, tzinfo=tz)
            found.append(PlannedMeeting(series, nominal, starts, noticed, note))
    return sorted(found, key=lambda meeting: (meeting.starts, meeting.series.title))


def noticed_between(
    series_list: Sequence[MeetingSeries],
    calendar: WorkCalendar,
    tz: ZoneInfo,
    notice_time: time,
    start: date,
    end: date,
) -> list[PlannedMeeting]:
    """The declared meetings whose notice goes out from ``start`` to ``end`` (inclusive)."""
    held = planned_meetings(series_list, calendar, tz, notice_time, start, end + SEARCH_MARGIN)
    return [meeting for meeting in held if start <= meeting.notice_at.date() <= end]
