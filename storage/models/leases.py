"""Leases on what only one instance may hold at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class ConnectionLease(Base):
    """Who holds a connection only one instance may hold (a WeCom 智能机器人's long connection): the holder
    renews ``expires_at``; once it lapses (the holder died) another instance takes the lease over."""

    __tablename__ = "connection_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    generation: Mapped[int] = mapped_column(default=1)  # +1 at each change of holder
