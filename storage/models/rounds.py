"""Rounds (征集, 会议回执) asked of member units, and every version of each unit's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId, utcnow


class Round(Base):
    """A collection asked of member units (征集): what, of whom, by when; answered by the units' liaisons.

    ``fields`` names what each answer should hold (姓名, 职务, 手机…; empty: free text). Who is asked: the units
    listed in ``units`` (their ids) when the office named them; else, with a ``group``, the units whose liaisons
    sit in that group; else every active unit. ``group`` is also where the request is posted. Shown as ``#id``.

    The monthly report is the built-in round of kind ``monthly``: one row per period (``code`` ``M2026-10``), its
    reports kept as ``submission`` rows linked by ``round_id`` (see :mod:`storage.monthly_round`).
    ``extended_at`` is when the office last moved the deadline (``截止 #N``); until then a monthly round's
    deadline follows the configured rule.
    """

    __tablename__ = "round"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="collection")
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[Any]] = mapped_column(default=list)
    group: Mapped[str] = mapped_column(String(128), default="")
    units: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    deadline: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    code: Mapped[str] = mapped_column(String(16), unique=True)  # the 确认 code that posted it
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    extended_at: Mapped[datetime | None] = mapped_column()


class RoundAnswer(Base):
    """One version of a unit's answer to a round; every version is kept, the latest counts.

    ``values`` holds the named fields parsed from the text; ``parsed`` is false when the fields could not be
    read (the text is kept whole and the office is shown the flag). ``late``: after the deadline or the close.
    """

    __tablename__ = "round_answer"
    __table_args__ = (
        UniqueConstraint("round_id", "unit_id", "version", name="uq_round_answer_round_unit_version"),
        Index("ix_round_answer_round_unit", "round_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parsed: Mapped[bool] = mapped_column(Boolean, default=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
