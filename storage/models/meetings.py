"""Meetings (会议): when and where each is held and who is asked to attend; its 回执 are a round's answers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Meeting(Base):
    """The meeting a ``meeting`` round collects 回执 for, one to one with the round (shown as ``会议#id``).

    ``series`` names the recurring meeting declared in ``[[schedules.meetings]]`` it is an occurrence of and
    ``nominal`` the day its rule names before any holiday move (both empty for a meeting posted by chat): a
    declared occurrence is posted once, whatever the instances or the re-runs.
    """

    __tablename__ = "meeting"
    __table_args__ = (UniqueConstraint("series", "nominal", name="uq_meeting_series_nominal"),)

    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column()
    place: Mapped[str] = mapped_column(String(200), default="")
    attendees: Mapped[str] = mapped_column(String(200), default="")
    series: Mapped[str | None] = mapped_column(String(64))
    nominal: Mapped[date | None] = mapped_column(Date)
