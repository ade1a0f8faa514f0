"""Stored contents by sha256, and their bytes when the database itself is the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Blob(Base):
    """One stored content (by sha256); where its bytes are: a directory, or :class:`BlobChunk` rows."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    backend: Mapped[str] = mapped_column(String(16))  # directory | database
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlobChunk(Base):
    """A piece of a blob kept in the database (the backend for several instances with no shared disk)."""

    __tablename__ = "blob_chunk"

    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
