"""The fetch worker: takes due files from the queue (``storage.files``) and settles each one.

For one file: claim it (lease), fetch it outside any transaction (``bot.files.fetch``), put the bytes in the
blob store, read a document's text (``bot.files.extract``), then in one transaction — only while the lease
is still this instance's — mark it stored, give an empty report version the document's text, and let
``handlers.files.settle_message`` confirm to the sender and tell the office of anything lost or refused.

A failed fetch is retried with back-off (10 s, 20 s, 40 s… up to 10 minutes) while the platform's reference
is valid; past that, the file is marked lost with the reason. Over the size limit, it is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.context import AppContext
from bot.files.extract import Extracted, extract_text
from bot.files.fetch import Fetched, Fetchers, Verdict
from bot.net import client_session
from bot.outbound.senders.base import http_timeout
from handlers.files import DOCUMENT_KINDS, settle_message
from storage.blobs import BlobStore, DatabaseStore, DirectoryStore, record_blob
from storage.file_names import safe_name, unique_names
from storage.files import claim_next, lock_held, retry_later, settle
from storage.models import FileState, StoredFile, Submission

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
ERROR_BACKOFF_SECONDS = 5.0
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=10)
CONCURRENCY = 4
VERSION_TEXT_CHARS = 20_000


def files_directory(settings: Settings) -> Path:
    return Path(settings.files.directory)


def blob_store(settings: Settings) -> BlobStore:
    if settings.files.store == "database":
        return DatabaseStore()
    return DirectoryStore(files_directory(settings))


@contextlib.asynccontextmanager
async def fetch_session(settings: Settings) -> AsyncIterator[aiohttp.ClientSession]:
    timeout = http_timeout(connect=10.0, read=max(settings.outbound.read_timeout_seconds, 30.0))
    async with client_session(settings.network, timeout=timeout) as http:
        yield http


def backoff(attempts: int) -> timedelta:
    delay: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 16))
    return min(delay, LONGEST_RETRY)


async def process_file(ctx: AppContext, fetchers: Fetchers, store: BlobStore, file_id: int) -> FileState | None:
    """Fetch and settle one claimed file; its new state, or ``None`` when it went back to the queue."""
    async with ctx.db.sessions() as session:
        file = await session.get_one(StoredFile, file_id)
    return await process_claimed(ctx, fetchers, store, file)


async def process_claimed(ctx: AppContext, fetchers: Fetchers, store: BlobStore, file: StoredFile) -> FileState | None:
    """:func:`process_file` for the row as the claim returned it."""
    file_id = file.id
    fetched = await fetchers.fetch(file)
    now = datetime.now(UTC)
    if fetched.verdict is Verdict.RETRY:
        retry_at = now + backoff(file.attempts)
        if retry_at <= file.valid_until:
            log.info("file %d: fetch failed (%s); retrying at %s", file_id, fetched.reason, retry_at.isoformat())
            await retry_later(ctx.db, file_id, ctx.instance_id, at=retry_at, reason=fetched.reason)
            return None
        reason = f"平台提供文件的时限已过，{fetched.reason}"
        return await _settle(ctx, file_id, FileState.LOST, reason=reason, now=now)
    if fetched.verdict is Verdict.GONE:
        return await _settle(ctx, file_id, FileState.LOST, reason=fetched.reason, now=now)
    if fetched.verdict is Verdict.TOO_LARGE:
        return await _settle(ctx, file_id, FileState.REFUSED, reason=fetched.reason, now=now)
    return await _store(ctx, store, file, fetched)


async def _store(ctx: AppContext, store: BlobStore, file: StoredFile, fetched: Fetched) -> FileState | None:
    spooled = fetched.spooled
    assert spooled is not None
    name = file.name
    if not file.original_name and fetched.name:
        name = safe_name(fetched.name, kind=file.kind, content_type=fetched.content_type)
    extracted = Extracted("")
    try:
        if file.kind in DOCUMENT_KINDS:
            files = ctx.settings.files
            extracted = await extract_text(
                spooled.path, name, max_chars=files.extract_max_chars, seconds=files.extract_timeout_seconds
            )
        await store.put(ctx.db, spooled)
    finally:
        spooled.path.unlink(missing_ok=True)
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        row = await lock_held(session, file.id, ctx.instance_id)
        if row is None:
            log.warning("file %d: stored, but no longer held by this instance; left to its holder", file.id)
            return None
        if name != row.name:
            taken = await session.scalars(
                select(StoredFile.name).where(StoredFile.submission_id == row.submission_id, StoredFile.id != row.id)
            )
            row.original_name = fetched.name
            row.name = unique_names([*taken, name])[-1]
        await record_blob(session, spooled, store.backend)
        row.sha256, row.size = spooled.sha256, spooled.size
        row.content_type = fetched.content_type.split(";")[0].strip()[:128]
        row.text, row.text_note = extracted.text, extracted.note
        settle(row, FileState.STORED, now=now)
        await _give_version_text(session, row)
        await settle_message(session, row, ctx.policy, now)
    log.info("file %d: stored (%d bytes)", file.id, spooled.size)
    return FileState.STORED


async def _give_version_text(session: AsyncSession, row: StoredFile) -> None:
    """A version that came as a document alone gets the document's text, so the ledger and briefing have it."""
    if not row.text or row.submission_id is None:
        return
    submission = await session.get(Submission, row.submission_id)
    if submission is not None and not submission.text.strip():
        body = row.text[:VERSION_TEXT_CHARS]
        more = "……（全文见附件）" if len(row.text) > VERSION_TEXT_CHARS else ""
        submission.text = f"（据附件《{row.name}》）\n{body}{more}"


async def _settle(ctx: AppContext, file_id: int, state: FileState, *, reason: str, now: datetime) -> FileState | None:
    async with ctx.db.transaction() as session:
        row = await lock_held(session, file_id, ctx.instance_id)
        if row is None:
            return None
        settle(row, state, now=now, reason=reason)
        await settle_message(session, row, ctx.policy, now)
    log.warning("file %d: %s (%s)", file_id, state.value, reason)
    return state


async def drain_files(
    ctx: AppContext, fetchers: Fetchers, store: BlobStore, stopping: asyncio.Event | None = None
) -> int:
    """Settle due files until none is left; how many were taken. Up to :data:`CONCURRENCY` at a time."""
    taken = 0

    async def lane() -> None:
        nonlocal taken
        lease = timedelta(seconds=ctx.settings.files.fetch_lease_seconds)
        while stopping is None or not stopping.is_set():
            file = await claim_next(ctx.db, ctx.instance_id, now=datetime.now(UTC), lease=lease)
            if file is None:
                return
            taken += 1
            file_id = file.id
            try:
                await process_claimed(ctx, fetchers, store, file)
            except Exception as exc:  # the lease runs out and the file is fetched again
                log.error("file %d: processing failed (%s); it will be retried", file_id, type(exc).__name__)
                log.debug("file %d: traceback", file_id, exc_info=True)

    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return taken


def sweep_spool(directory: Path | None, *, older_than: timedelta) -> int:
    """Remove spool files a crashed fetch left behind (its file is fetched again from the start)."""
    if directory is None or not directory.is_dir():
        return 0
    cutoff = datetime.now(UTC).timestamp() - older_than.total_seconds()
    removed = 0
    for path in directory.glob("fetch-*.part"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


async def fetch_worker(ctx: AppContext, stopping: asyncio.Event) -> None:
    """The service's fetch worker: runs until ``stopping`` is set."""
    store = blob_store(ctx.settings)
    lease = timedelta(seconds=ctx.settings.files.fetch_lease_seconds)
    swept = await asyncio.to_thread(sweep_spool, store.spool_directory(), older_than=lease)
    if swept:
        log.info("fetch worker: removed %d partial downloads left by an interrupted fetch", swept)
    log.info("fetch worker started as %s (store: %s)", ctx.instance_id, store.backend)
    async with fetch_session(ctx.settings) as http:
        fetchers = Fetchers(http, ctx.settings, store.spool_directory())
        while not stopping.is_set():
            try:
                await drain_files(ctx, fetchers, store, stopping)
            except Exception as exc:
                log.error("fetch worker: cannot reach the queue (%s); retrying", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), ERROR_BACKOFF_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
    log.info("fetch worker stopped")
