"""征集: every round with its counts, and one round's standing unit by unit.

The numbers are :func:`storage.rounds.round_standing`'s — the same as ``统计 #N`` in chat. A liaison sees only the
rounds that ask their unit, and on them only their unit's row; any other round answers 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from bot.console.base import context_of, path_id, render, viewer_of
from storage.models import Round
from storage.rounds import MEETING, MONTHLY, RoundStanding, UnitAnswer, number_label, round_standing

routes = web.RouteTableDef()


def visible_rows(standing: RoundStanding, unit_id: int | None, is_office: bool) -> list[UnitAnswer]:
    """The rows of ``standing`` the viewer may see: all for the office, else only their own unit's."""
    return standing.units if is_office else [row for row in standing.units if row.unit_id == unit_id]


@dataclass(frozen=True)
class Section:
    """The rounds of one kind, as the list shows them: 月度报送 (月报#N), 征集 (征集#N), 会议回执 (会议#N)."""

    title: str
    answer: str  # what a unit does: 报送 or 答复
    shown: list[tuple[RoundStanding, list[UnitAnswer]]]


SECTIONS = ((MONTHLY, "月度报送", "报送"), (None, "征集", "答复"), (MEETING, "会议回执", "回执"))


def _section_kind(round_: Round) -> str | None:
    """The kind a round is listed under: a month, a meeting, or (``None``) any other collection."""
    return round_.kind if round_.kind in (MONTHLY, MEETING) else None


@routes.get("/rounds")
async def rounds_page(request: web.Request) -> web.Response:
    viewer = viewer_of(request)
    async with context_of(request).db.sessions() as session:
        found = list(await session.scalars(select(Round).order_by(Round.id.desc())))
        standings = [await round_standing(session, round_) for round_ in found]
    shown = [
        (standing, visible_rows(standing, viewer.unit_id, viewer.is_office))
        for standing in standings
        if viewer.is_office or any(row.unit_id == viewer.unit_id for row in standing.units)
    ]
    sections = [
        Section(title, answer, [pair for pair in shown if _section_kind(pair[0].round) == kind])
        for kind, title, answer in SECTIONS
    ]
    return render(
        request, "rounds.html.j2", sections=[section for section in sections if section.shown], label=number_label
    )


@routes.get("/rounds/{round_id}")
async def round_page(request: web.Request) -> web.Response:
    round_id = path_id(request, "round_id")
    viewer = viewer_of(request)
    async with context_of(request).db.sessions() as session:
        round_ = await session.get(Round, round_id)
        if round_ is None:
            raise web.HTTPNotFound()
        standing = await round_standing(session, round_)
    rows = visible_rows(standing, viewer.unit_id, viewer.is_office)
    if not rows and not viewer.is_office:
        raise web.HTTPNotFound()
    return render(request, "round.html.j2", standing=standing, rows=rows, label=number_label)
