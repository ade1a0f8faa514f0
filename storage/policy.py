"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class DocumentSettings(BaseModel):
    """``[documents]`` of the configuration, defined once: the Word documents (月度通报, 快报, 季度通报, 半年评估报告)
    and the chat circular's lists. The config reads it, ``Policy.documents`` carries it to the document code and the
    monthly circular. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = ""  # 发文机关署名; empty: the office's name
    number_prefix: str = ""  # 发文机关代字, e.g. 强省会办
    number_pattern: str = NUMBER_PATTERN
    template: Path | None = None  # the office's .docx with its letterhead; None (or "" in the file): the plain default
    report_to: str = ""  # 主送机关 of the 半年评估报告, e.g. 省人民政府
    output_dir: Path = Path("var/documents")  # where documents asked for in chat are kept
    on_time_names_up_to: int = Field(default=ON_TIME_NAMES_UP_TO, ge=0, le=100_000)

    @field_validator("number_pattern")
    @classmethod
    def _number_fields(cls, value: str) -> str:
        try:
            value.format(prefix="", year=2026, number=1)
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "只能使用 {prefix}、{year}、{number} 三个字段，例如 {prefix}〔{year}〕{number}号"
            ) from None
        if "{number}" not in value:
            raise ValueError("应包含 {number}（文号中的序号）")
        return value

    @field_validator("template", mode="before")
    @classmethod
    def _template_exists(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        if not Path(value).is_file():
            raise ValueError("文件不存在")
        if not str(value).lower().endswith(".docx"):
            raise ValueError("应为 Word .docx 文件")
        return value

    def document_number(self, year: int, number: int | None) -> str:
        """``强省会办〔2026〕12号``; without a number, a blank the office fills in by hand when it signs."""
        shown = str(number) if number is not None else "\u3000\u3000"
        return self.number_pattern.format(prefix=self.number_prefix, year=year, number=shown)


@dataclass(frozen=True)
class FileRoutes:
    """Where the bot can send a file (a document the office asked for), as configured.

    ``wecom_app``: the WeCom self-built app can send (1:1 to a member); ``wecom_groups``: WeCom chat id → the
    configured group whose robot webhook posts to that chat; ``dingtalk_robot_code``: the DingTalk app robot's
    code when its app key and secret are configured (files go through DingTalk's OpenAPI); ``feishu_app``: the
    Feishu self-built app answers over its long connection (it uploads and sends files too); ``wecom_bot_socket``:
    the WeCom 智能机器人 answers over its long connection (it uploads and sends files too); ``blob_store`` and
    ``blob_directory``: where the file is kept until it is sent (``[files]``).
    """

    wecom_app: bool = False
    wecom_groups: dict[str, str] = field(default_factory=dict)
    dingtalk_robot_code: str = ""
    feishu_app: bool = False
    wecom_bot_socket: bool = False
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
    documents: DocumentSettings = field(default_factory=DocumentSettings, compare=False)
    file_routes: FileRoutes = field(default_factory=FileRoutes, compare=False)
