"""Reading the arguments of the ledger commands: an item reference (``#12``), a date, units, as people write them.

Arguments arrive NFKC-normalised (``＃12`` is ``#12``, ``１２月`` is ``12月``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_REF = re.compile(r"^#?\s*(\d{1,9})(?:号)?(?=\s|$|[:,;、])[\s:,;、]*")
_FULL = re.compile(r"^(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*(?:日|号)?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*(?:日|号)?$")
_DATE_HEAD = re.compile(
    r"^(\d{4}\s*(?:年|-|/|\.)\s*\d{1,2}\s*(?:月|-|/|\.)\s*\d{1,2}\s*(?:日|号)?|\d{1,2}\s*(?:月|-|/|\.)\s*\d{1,2}\s*(?:日|号)?)"
)
_UNIT_SEPARATORS = re.compile(r"[\s、,;]+")


def item_reference(args: str) -> tuple[int | None, str]:
    """``#12 内容`` → (12, ``内容``); ``(None, args)`` when the arguments do not start with a number."""
    found = _REF.match(args.strip())
    if found is None:
        return None, args.strip()
    return int(found[1]), args.strip()[found.end() :].strip()


def parse_date(text: str, today: date) -> date:
    """``12月10日``, ``12.10``, ``2026-12-10``, ``2026年12月10日``; a month and day alone mean the next such
    date that is not in the past. ``ValueError`` (in Chinese) for anything else."""
    cleaned = text.strip()
    full = _FULL.match(cleaned)
    try:
        if full:
            return date(int(full[1]), int(full[2]), int(full[3]))
        short = _MONTH_DAY.match(cleaned)
        if short:
            month, day = int(short[1]), int(short[2])
            for year in (today.year, today.year + 1, today.year + 4):  # 2月29日 may wait for a leap year
                try:
                    candidate = date(year, month, day)
                except ValueError:
                    continue
                if candidate >= today:
                    return candidate
            raise ValueError
    except ValueError:
        pass
    raise ValueError(f"未能识别日期“{cleaned}”，请写作 12月10日、12.10 或 2026-12-10。")


def split_date(text: str, today: date) -> tuple[date, str]:
    """A date at the start of ``text`` and what follows it (a reason). ``ValueError`` if there is none."""
    found = _DATE_HEAD.match(text.strip())
    if found is None:
        raise ValueError(f"未能识别日期“{text.strip()[:20]}”，请写作 12月10日、12.10 或 2026-12-10。")
    rest = text.strip()[found.end() :].strip(" :,;、")
    return parse_date(found[1], today), rest


@dataclass
class Assignment:
    lead: str
    supporting: list[str] = field(default_factory=list)
    due_text: str = ""


def split_assignment(text: str) -> Assignment | None:
    """``单位 [配合 单位…] 截止 日期`` → its parts; ``None`` when the unit or the 截止 part is missing."""
    head, separator, due_text = text.partition("截止")
    if not separator or not due_text.strip(" :：") or not head.strip():
        return None
    lead_text, _, supporting_text = head.partition("配合")
    lead = lead_text.strip(" :,;、")
    if not lead or " " in lead:
        return None
    supporting = [name for name in _UNIT_SEPARATORS.split(supporting_text.strip(" :")) if name]
    return Assignment(lead, list(dict.fromkeys(supporting)), due_text.strip(" :,;、"))
