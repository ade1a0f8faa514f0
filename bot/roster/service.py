"""Importing a roster file: the one path the command line and the console share.

Read and validate the whole file (:func:`bot.roster.read_roster`), bring the configured groups into the
database, then apply it in one transaction with its audit entry — or, for a dry run, roll it all back and
report what would change. A file with any problem raises :class:`~bot.roster.RosterRejected` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.roster import ParsedRoster, read_roster
from storage.db import Database
from storage.roster import ImportSummary, import_roster
from storage.sync import sync_groups


@dataclass(frozen=True)
class RosterImport:
    parsed: ParsedRoster
    summary: ImportSummary
    dry_run: bool


async def import_roster_file(
    db: Database,
    settings: Settings,
    path: Path,
    *,
    actor: str,
    via: str,
    dry_run: bool,
    person_id: int | None = None,
    file_name: str = "",
) -> RosterImport:
    known_groups = {group.name: group.platform for group in settings.groups}
    parsed = read_roster(path, known_groups)
    await sync_groups(db, settings.groups)
    summary = await import_roster(
        db,
        parsed.entries,
        actor=actor,
        source=f"导入名册 {file_name or path.name}",
        dry_run=dry_run,
        person_id=person_id,
        via=via,
    )
    return RosterImport(parsed=parsed, summary=summary, dry_run=dry_run)
