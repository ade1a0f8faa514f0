"""Where the bytes of stored files live: one small interface, two backends.

- :class:`DirectoryStore` (the embedded default): ``<root>/ab/cd/<sha256>``, written to a spool file under
  ``<root>/.spool`` and renamed into place (atomic on one file system, so a crash leaves no half file under a
  real name).
- :class:`DatabaseStore`: the bytes in ``blob_chunk`` rows of :data:`CHUNK_BYTES`, written in one transaction
  with the ``blob`` row, read back one chunk at a time — for several instances that share no disk.

Content is addressed by sha256: storing what is already there is a no-op. Memory stays flat on both sides: a
download is spooled to disk as it arrives (:class:`Spool`), and reading yields chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import Blob, BlobChunk, utcnow

CHUNK_BYTES = 512 * 1024


class TooLarge(Exception):
    """The content passed the size limit while it arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Spooled:
    """A complete download on local disk, with its hash and size, waiting to be stored."""

    path: Path
    sha256: str
    size: int


class Spool:
    """A temporary file that hashes and counts what is written, and refuses to grow past ``limit`` bytes."""

    def __init__(self, directory: Path | None, limit: int) -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="fetch-", suffix=".part", dir=directory)
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(handle, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        self._hash.update(data)
        self._file.write(data)

    def finish(self) -> Spooled:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return Spooled(self.path, self._hash.hexdigest(), self.size)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class BlobStore(ABC):
    backend: str

    @abstractmethod
    def spool_directory(self) -> Path | None:
        """Where downloads are spooled (the store's own file system where renaming into place is possible)."""

    @abstractmethod
    async def put(self, db: Database, spooled: Spooled) -> None:
        """Keep ``spooled`` under its hash (the spool file is consumed).

        The ``blob`` row is written by :func:`record_blob` in the caller's transaction (the one that marks the
        file stored); the database store writes it at once, with the chunks, so its bytes commit together.
        """


class DirectoryStore(BlobStore):
    backend = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def spool_directory(self) -> Path:
        return self.root / ".spool"

    async def put(self, db: Database, spooled: Spooled) -> None:
        await self.put_file(spooled)

    async def put_file(self, spooled: Spooled) -> None:
        """Rename the spool file into place (the ``blob`` row is the caller's)."""
        target = self.path_of(spooled.sha256)

        def place() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_file() and target.stat().st_size == spooled.size:
                spooled.path.unlink(missing_ok=True)
                return
            os.replace(spooled.path, target)

        await asyncio.to_thread(place)


class DatabaseStore(BlobStore):
    backend = "database"

    def spool_directory(self) -> None:
        return None  # the system's temporary directory

    async def put(self, db: Database, spooled: Spooled) -> None:
        try:
            async with db.transaction() as session:
                if not await record_blob(session, spooled, self.backend):
                    return  # stored already (or being stored by another instance, whose transaction commits it)
                with spooled.path.open("rb") as source:
                    seq = 0
                    while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
                        await session.execute(insert(BlobChunk).values(sha256=spooled.sha256, seq=seq, data=chunk))
                        seq += 1
        finally:
            spooled.path.unlink(missing_ok=True)


async def record_blob(session: AsyncSession, spooled: Spooled, backend: str) -> bool:
    """The ``blob`` row for content just put in the store, unless it is there already; whether it was new.

    ``INSERT … ON CONFLICT DO NOTHING``: two instances (or lanes) storing the same content at once both succeed.
    """
    dialect = (await session.connection()).dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert_into(Blob)
        .values(sha256=spooled.sha256, size=spooled.size, backend=backend, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(Blob.sha256)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


def store_of(backend: str, directory: Path) -> BlobStore:
    """The configured store (``[files] store``; ``directory`` for the directory store)."""
    return DatabaseStore() if backend == DatabaseStore.backend else DirectoryStore(directory)


async def put_bytes(session: AsyncSession, store: BlobStore, content: bytes) -> str:
    """Keep ``content`` (made in memory, such as a document) in ``store`` within the caller's transaction.

    The directory store's file is in place before the ``blob`` row commits (a rolled-back transaction leaves an
    unreferenced file, never a row without bytes); the database store's chunks commit with the row.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    if isinstance(store, DirectoryStore):
        spool = Spool(store.spool_directory(), len(content))
        try:
            spool.write(content)
            spooled = await asyncio.to_thread(spool.finish)
        except BaseException:
            spool.discard()
            raise
        await store.put_file(spooled)
        await record_blob(session, spooled, store.backend)
        return sha256
    if await record_blob(session, Spooled(Path(), sha256, len(content)), store.backend):
        for seq, start in enumerate(range(0, len(content), CHUNK_BYTES)):
            chunk = content[start : start + CHUNK_BYTES]
            await session.execute(insert(BlobChunk).values(sha256=sha256, seq=seq, data=chunk))
    return sha256


class BlobMissing(Exception):
    """A ``blob`` row whose bytes cannot be found (a directory store restored without its files)."""


async def read_blob(db: Database, directory: Path, sha256: str) -> AsyncIterator[bytes]:
    """The content under ``sha256`` in chunks, from whichever backend holds it."""
    async with db.sessions() as session:
        blob = await session.get(Blob, sha256)
    if blob is None:
        raise BlobMissing(sha256)
    if blob.backend == DatabaseStore.backend:
        seq = 0
        while True:
            async with db.sessions() as session:
                chunk = await session.scalar(
                    select(BlobChunk.data).where(BlobChunk.sha256 == sha256, BlobChunk.seq == seq)
                )
            if chunk is None:
                break
            yield chunk
            seq += 1
        return
    path = DirectoryStore(directory).path_of(sha256)
    if not path.is_file():
        raise BlobMissing(sha256)
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
            yield chunk
