"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from storage.periods import DeadlineRule

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


def _default_schedules() -> ScheduleSettings:
    # Imported here: the settings model belongs to ``schedules``, which imports storage, not the other way round.
    from schedules.settings import ScheduleSettings

    return ScheduleSettings()


# A chat circular names every on-time unit up to this many; above it, it gives their count only.
ON_TIME_NAMES_UP_TO = 40
NUMBER_PATTERN = "{prefix}〔{year}〕{number}号"


@dataclass(frozen=True)
class DocumentSettings:
    """``[documents]`` as the document code and the monthly circular read it (the shell builds it from the config;
    these defaults when nothing was configured)."""

    issuer: str = ""  # 发文机关署名; empty: the office's name
    number_prefix: str = ""  # 发文机关代字, e.g. 强省会办
    number_pattern: str = NUMBER_PATTERN
    template: Path | None = None  # the office's .docx with its letterhead; None: the plain default
    report_to: str = ""  # 主送机关 of the 半年评估报告, e.g. 省人民政府
    output_dir: Path = Path("var/documents")  # where documents asked for in chat are kept
    on_time_names_up_to: int = ON_TIME_NAMES_UP_TO

    def document_number(self, year: int, number: int | None) -> str:
        """``强省会办〔2026〕12号``; without a number, a blank the office fills in by hand when it signs."""
        shown = str(number) if number is not None else "\u3000\u3000"
        return self.number_pattern.format(prefix=self.number_prefix, year=year, number=shown)


@dataclass(frozen=True)
class Policy:
    tz: ZoneInfo
    office_name: str
    deadline: DeadlineRule
    # A document that follows the same liaison's text within this window joins that version (issue 10).
    file_join_window: timedelta = timedelta(minutes=10)
    max_file_bytes: int = 50 * 1024 * 1024
    # The timed jobs' settings, read typed by handlers and jobs; the defaults when nothing was configured.
    schedules: ScheduleSettings = field(default_factory=_default_schedules, compare=False)
    console_url: str = ""  # where the office's console is opened ("" when it is off): sign-in links start here
    direct_platforms: frozenset[str] = frozenset({"sandbox"})  # platforms the bot can write to a person 1:1 on
    documents: DocumentSettings = field(default_factory=DocumentSettings, compare=False)
