"""The files people send: recording them, the durable fetch queue, and the service API that lists and opens them.

The queue works as the inbox does (``bot/inbox_worker.py``): a claim marks a ``pending`` row with a lease
(``locked_by``, ``locked_until``) and commits; the fetch happens outside any transaction; the outcome is
written only while the lease is still this instance's. On PostgreSQL the claim takes the oldest due row with
``FOR UPDATE SKIP LOCKED`` so instances never take the same row; on SQLite writers are serialised. A row
whose holder died keeps its expired lease and is claimed again — the fetch resumes from the start, and
content addressing makes a second store of the same bytes a no-op.

Issue #12 (documents) and #13 (console) read files through :func:`list_files` and :func:`open_file`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from storage.blobs import read_blob
from storage.db import Database
from storage.file_names import safe_name, unique_names
from storage.models import FileState, InboxMessage, StoredFile, Submission, Unit

LEASE = timedelta(minutes=5)
# How long each platform keeps serving what it handed us (PLATFORMS.md, addendum 1). DingTalk documents no
# lifetime for a downloadCode (UNVERIFIED): a day, after which a failing fetch is given up as lost.
REFERENCE_LIFETIME = {
    "wecom_app": timedelta(days=3),
    "wecom_bot": timedelta(minutes=5),
    "dingtalk_bot": timedelta(days=1),
    "feishu_ws": timedelta(days=1),  # Feishu documents no lifetime for a message's resources either
}
DEFAULT_LIFETIME = timedelta(hours=1)


def reference_lifetime(channel: str) -> timedelta:
    return REFERENCE_LIFETIME.get(channel, DEFAULT_LIFETIME)


def record_files(
    session: AsyncSession,
    row: InboxMessage,
    items: Sequence[dict[str, Any]],
    *,
    unit_id: int | None,
    period: str | None,
    submission_id: int | None,
    person_id: int | None,
    reply_lead: str = "",
    taken: Sequence[str] = (),
) -> list[StoredFile]:
    """One ``pending`` row per attachment of ``row`` (the fetch queue takes them from there).

    ``taken`` holds the names already in the version, so a repeated name is numbered.
    """
    kinds = [str(item.get("kind") or "file") for item in items]
    wanted = [safe_name(str(item.get("name") or ""), kind=kind) for item, kind in zip(items, kinds, strict=True)]
    names = unique_names([*taken, *wanted])[len(taken) :]
    files = [
        StoredFile(
            kind=kind,
            name=name,
            original_name=str(item.get("name") or ""),
            unit_id=unit_id,
            period=period,
            submission_id=submission_id,
            person_id=person_id,
            sender_id=row.sender_id,
            inbox_id=row.id,
            channel=row.channel,
            reference={**item, "message_id": row.message_id},
            received_at=row.received_at,
            valid_until=row.received_at + reference_lifetime(row.channel),
            state=FileState.PENDING,
            next_attempt_at=row.received_at,
            reply_lead=reply_lead if index == 0 else "",
        )
        for index, (item, kind, name) in enumerate(zip(items, kinds, names, strict=True))
    ]
    session.add_all(files)
    return files


def claimable(now: datetime) -> ColumnElement[bool]:
    """Pending rows that are due and held by no live lease."""
    return (
        (StoredFile.state == FileState.PENDING)
        & (StoredFile.next_attempt_at <= now)
        & or_(StoredFile.locked_until.is_(None), StoredFile.locked_until < now)
    )


async def claim_next_file(db: Database, instance: str, *, now: datetime, lease: timedelta = LEASE) -> int | None:
    """Claim the oldest due file for ``instance``; its id, or ``None``."""
    claimed = await claim_next(db, instance, now=now, lease=lease)
    return claimed.id if claimed is not None else None


async def claim_next(db: Database, instance: str, *, now: datetime, lease: timedelta = LEASE) -> StoredFile | None:
    """Claim the oldest due file for ``instance``; the claimed row as it now is (one statement), or ``None``."""
    oldest = (
        select(StoredFile.id)
        .where(claimable(now))
        .order_by(StoredFile.next_attempt_at, StoredFile.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(StoredFile)
        .where(StoredFile.id == oldest, claimable(now))
        .values(locked_by=instance, locked_until=now + lease, attempts=StoredFile.attempts + 1)
        .returning(StoredFile)
    )
    async with db.transaction() as session:
        return (await session.scalars(statement)).one_or_none()


def held_by(file_id: int, instance: str) -> ColumnElement[bool]:
    return (StoredFile.id == file_id) & (StoredFile.state == FileState.PENDING) & (StoredFile.locked_by == instance)


async def lock_held(session: AsyncSession, file_id: int, instance: str) -> StoredFile | None:
    """The row, locked, if ``instance`` still holds its lease; ``None`` when another took it or it is settled."""
    query = select(StoredFile).where(held_by(file_id, instance)).with_for_update()
    return (await session.scalars(query)).one_or_none()


async def retry_later(db: Database, file_id: int, instance: str, *, at: datetime, reason: str) -> None:
    """Give the row back to the queue, due again at ``at``."""
    async with db.transaction() as session:
        await session.execute(
            update(StoredFile)
            .where(held_by(file_id, instance))
            .values(next_attempt_at=at, reason=reason, locked_by=None, locked_until=None)
        )


def settle(file: StoredFile, state: FileState, *, now: datetime, reason: str = "") -> None:
    file.state = state
    file.reason = reason
    file.settled_at = now
    file.locked_by = None
    file.locked_until = None


async def unsettled_siblings(session: AsyncSession, file: StoredFile) -> int:
    """How many other files of the same message are still pending."""
    if file.inbox_id is None:
        return 0
    found = await session.scalars(
        select(StoredFile.id).where(
            StoredFile.inbox_id == file.inbox_id, StoredFile.id != file.id, StoredFile.state == FileState.PENDING
        )
    )
    return len(found.all())


# ---- the service API (CLI, chat commands, console, documents) ---------------------------------------------


@dataclass(frozen=True)
class FileFilter:
    period: str | None = None
    unit_id: int | None = None
    submission_id: int | None = None
    states: tuple[FileState, ...] = ()


async def list_files(session: AsyncSession, where: FileFilter = FileFilter()) -> list[StoredFile]:
    """Files by period, unit and version (oldest first), with their unit, version and sender loaded."""
    query = select(StoredFile).options(
        selectinload(StoredFile.unit), selectinload(StoredFile.submission), selectinload(StoredFile.person)
    )
    if where.period is not None:
        query = query.where(StoredFile.period == where.period)
    if where.unit_id is not None:
        query = query.where(StoredFile.unit_id == where.unit_id)
    if where.submission_id is not None:
        query = query.where(StoredFile.submission_id == where.submission_id)
    if where.states:
        query = query.where(StoredFile.state.in_(where.states))
    return list(await session.scalars(query.order_by(StoredFile.period, StoredFile.unit_id, StoredFile.id)))


async def files_of_versions(session: AsyncSession, submission_ids: Sequence[int]) -> dict[int, list[StoredFile]]:
    """The files of each version in ``submission_ids``."""
    if not submission_ids:
        return {}
    rows = await session.scalars(
        select(StoredFile).where(StoredFile.submission_id.in_(submission_ids)).order_by(StoredFile.id)
    )
    result: dict[int, list[StoredFile]] = {}
    for row in rows:
        result.setdefault(row.submission_id or 0, []).append(row)
    return result


class FileNotStored(Exception):
    """The file has no bytes to give (pending, lost or refused)."""

    def __init__(self, file: StoredFile) -> None:
        super().__init__(file.state.value)
        self.file = file


async def get_file(session: AsyncSession, file_id: int) -> StoredFile | None:
    query = (
        select(StoredFile)
        .options(selectinload(StoredFile.unit), selectinload(StoredFile.submission))
        .where(StoredFile.id == file_id)
    )
    return (await session.scalars(query)).one_or_none()


async def open_file(db: Database, directory: Path, file: StoredFile) -> AsyncIterator[bytes]:
    """The file's bytes as a stream of chunks (memory stays flat whatever the size)."""
    if file.state is not FileState.STORED or file.sha256 is None:
        raise FileNotStored(file)
    async for chunk in read_blob(db, directory, file.sha256):
        yield chunk


def version_folder_name(unit: Unit | None, submission: Submission | None) -> str:
    """``省商务厅/第2版`` — where a file sits in an export."""
    unit_name = safe_name(unit.name if unit is not None else "未关联单位")
    version = f"第{submission.version}版" if submission is not None else "未归入版本"
    return f"{unit_name}/{version}"
