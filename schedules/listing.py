"""Planned occurrences as the office reads them (``duban jobs list``, the console's 定时任务 page).

A job that only looks at each occurrence and posts when there is something (``Job.checks``: the meeting reminder
looks every morning and posts on a meeting's day) is shown once, with its rule and its next check, rather than on
every day it looks: a plan that lists 会议提醒 on every Saturday reads as if a meeting were held on each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schedules.occurrences import Occurrence
from schedules.registry import job_named
from schedules.settings import ScheduleSettings


@dataclass(frozen=True)
class Check:
    """A checking job in a listing: its title and name, when it runs and when it posts, and its next check."""

    title: str
    job: str
    rule: str
    next: Occurrence


def fold_checks(
    occurrences: Sequence[Occurrence], settings: ScheduleSettings, *, now: datetime
) -> tuple[list[Occurrence], list[Check]]:
    """The occurrences to list one by one, and one :class:`Check` for each checking job among the rest: its next
    check at or after ``now``, or its first in ``occurrences`` when they are all past."""
    listed: list[Occurrence] = []
    looks: dict[str, list[Occurrence]] = {}
    for occurrence in occurrences:
        if not job_named(occurrence.job).checks:
            listed.append(occurrence)
        elif not occurrence.skipped:
            looks.setdefault(occurrence.job, []).append(occurrence)
    checks = []
    for name, planned in looks.items():
        job = job_named(name)
        when = job.describe(settings) if job.describe is not None else ""
        upcoming = [occurrence for occurrence in planned if occurrence.at >= now]
        checks.append(Check(job.title, name, f"{when}；{job.checks}" if when else job.checks, (upcoming or planned)[0]))
    return listed, checks
