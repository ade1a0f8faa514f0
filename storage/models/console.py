"""The console's sign-in links and signed-in browsers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow

if TYPE_CHECKING:
    from storage.models import Person


class ConsoleLogin(Base):
    """A one-time sign-in link for the console: single use, short-lived, bound to one person.

    Only the SHA-256 of the token is stored: a copy of the database does not hold usable links.
    """

    __tablename__ = "console_login"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    issued_via: Mapped[str] = mapped_column(String(16), default="chat")  # chat | cli


class ConsoleSession(Base):
    """A signed-in browser: kept in the database so that every instance knows it; the cookie holds the id,
    the table only its SHA-256."""

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_person_id", "person_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by: Mapped[str] = mapped_column(String(128), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")

    person: Mapped[Person] = relationship()
