"""The documents' settings as a plain object: the shell builds it from ``[documents]`` in the config.

``schedules`` never imports ``bot``; it reaches these settings through ``Policy.documents``
(:func:`document_settings`), with the defaults below when nothing was configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.policy import Policy

# A chat circular names every on-time unit up to this many; above it, it gives their count only.
ON_TIME_NAMES_UP_TO = 40
NUMBER_PATTERN = "{prefix}〔{year}〕{number}号"


@dataclass(frozen=True)
class DocumentSettings:
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


def document_settings(policy: Policy) -> DocumentSettings:
    """The document settings ``policy`` carries, or the defaults."""
    return policy.documents if isinstance(policy.documents, DocumentSettings) else DocumentSettings()
