"""Roster files: reading and validating the office's spreadsheet of units and liaisons, and writing it back.

``read_roster`` accepts .xlsx and .csv (UTF-8, UTF-8 with BOM, GBK) with the Chinese headers of
``bot.roster.columns`` and refuses the whole file, listing every problem with its row number, if anything is
wrong. ``storage.roster.import_roster`` then applies the entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.roster.export import write_roster
from bot.roster.tables import UnreadableFile, read_sheets
from bot.roster.validation import ParsedRoster, RosterProblem, RosterRejected, parse_sheets

__all__ = ["ParsedRoster", "RosterProblem", "RosterRejected", "read_roster", "write_roster"]


def read_roster(path: Path, known_groups: Mapping[str, str]) -> ParsedRoster:
    """Read and validate a roster file; raise :class:`RosterRejected` listing every problem.

    ``known_groups`` maps each configured group's name to its platform (``[[groups]]`` in the config).
    """
    try:
        sheets = read_sheets(path)
    except UnreadableFile as exc:
        raise RosterRejected([RosterProblem((), str(exc))]) from None
    return parse_sheets(sheets, known_groups)
