"""The kinds of document the office makes, apart from the builders so that ``duban --help`` can list them
without loading python-docx and matplotlib."""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    CIRCULAR = "circular"
    FLASH = "flash"
    QUARTERLY = "quarterly"
    EVALUATION = "evaluation"

    @property
    def label(self) -> str:
        return {"circular": "月度通报", "flash": "快报", "quarterly": "季度通报", "evaluation": "半年评估报告"}[self]
