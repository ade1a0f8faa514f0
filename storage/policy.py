"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from storage.periods import DeadlineRule


@dataclass(frozen=True)
class Policy:
    tz: ZoneInfo
    office_name: str
    deadline: DeadlineRule
    # A document that follows the same liaison's text within this window joins that version (issue 10).
    file_join_window: timedelta = timedelta(minutes=10)
    max_file_bytes: int = 50 * 1024 * 1024
    # The timed jobs' settings (``schedules.settings.ScheduleSettings``), typed loosely because storage does not
    # import schedules; ``schedules.settings.schedule_settings(policy)`` reads it back, with defaults when unset.
    schedules: object = field(default=None, compare=False)
    console_url: str = ""  # where the office's console is opened ("" when it is off): sign-in links start here
    direct_platforms: frozenset[str] = frozenset({"sandbox"})  # platforms the bot can write to a person 1:1 on
    # The documents' settings (``schedules.documents.settings.DocumentSettings``), typed loosely for the same reason.
    documents: object = field(default=None, compare=False)
