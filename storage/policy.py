"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from storage.periods import DeadlineRule

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


def _default_schedules() -> ScheduleSettings:
    # Imported here: the settings model belongs to ``schedules``, which imports storage, not the other way round.
    from schedules.settings import ScheduleSettings

    return ScheduleSettings()


@dataclass(frozen=True)
class FileRoutes:
    """Where the bot can send a file (a document the office asked for), as configured.

    ``wecom_app``: the WeCom self-built app can send (1:1 to a member); ``wecom_groups``: WeCom chat id → the
    configured group whose robot webhook posts to that chat; ``dingtalk_robot_code``: the DingTalk app robot's
    code when its app key and secret are configured (files go through DingTalk's OpenAPI); ``blob_store`` and
    ``blob_directory``: where the file is kept until it is sent (``[files]``).
    """

    wecom_app: bool = False
    wecom_groups: dict[str, str] = field(default_factory=dict)
    dingtalk_robot_code: str = ""
    blob_store: str = "directory"
    blob_directory: str = "var/files"


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
    # The documents' settings (``schedules.documents.settings.DocumentSettings``), typed loosely because storage
    # does not import schedules.
    documents: object = field(default=None, compare=False)
    file_routes: FileRoutes = field(default_factory=FileRoutes, compare=False)
