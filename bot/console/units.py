"""单位: a unit's months, its report versions and the difference between two of them, and its items.

A liaison sees only their own unit: any other unit's address answers 404, the same as one that does not exist.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from bot.console.base import as_id, context_of, path_id, render, viewer_of
from bot.console.files import describe
from storage import items as ledger
from storage.files import files_of_versions
from storage.matrix import LABELS, months_ending, report_matrix
from storage.models import Person, Unit, utcnow
from storage.periods import Period
from storage.submissions import versions

routes = web.RouteTableDef()
MONTHS = 24


def visible_unit_id(request: web.Request) -> int:
    """The unit in the address, if the viewer may see it; else 404 (never telling whether it exists)."""
    unit_id = path_id(request, "unit_id")
    viewer = viewer_of(request)
    if not viewer.is_office and viewer.unit_id != unit_id:
        raise web.HTTPNotFound()
    return unit_id


async def _unit(request: web.Request, unit_id: int) -> Unit:
    async with context_of(request).db.sessions() as session:
        unit = await session.get(Unit, unit_id)
    if unit is None:
        raise web.HTTPNotFound()
    return unit


@routes.get("/units/{unit_id}")
async def unit_page(request: web.Request) -> web.Response:
    unit_id = visible_unit_id(request)
    ctx = context_of(request)
    now = utcnow()
    periods = months_ending(ctx.policy.deadline.open_period(now), MONTHS)
    calendar = ctx.policy.schedules.calendar()
    async with ctx.db.sessions() as session:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            raise web.HTTPNotFound()
        people = list(
            await session.scalars(
                select(Person).where(Person.unit_id == unit_id, Person.active.is_(True)).order_by(Person.role)
            )
        )
        found = await report_matrix(session, periods, ctx.policy.deadline, now, unit_id=unit_id)
        items = await ledger.items_of_unit(session, unit_id)
    lights = {item.id: ledger.item_light(item, calendar, now, ctx.policy.tz) for item in items}
    months = list(zip(periods, found[0].cells, strict=True))[::-1] if found else []
    return render(
        request, "unit.html.j2", unit=unit, people=people, months=months, labels=LABELS, items=items, lights=lights
    )


@dataclass(frozen=True)
class DiffRow:
    kind: str  # "same" | "add" | "del" | "chg"
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def line_diff(old: str, new: str) -> list[DiffRow]:
    """A side-by-side difference of two versions, line by line (difflib)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow("same", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]) for k in range(i2 - i1)]
            continue
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            left = i1 + k < i2
            right = j1 + k < j2
            kind = "chg" if left and right else ("del" if left else "add")
            rows.append(
                DiffRow(
                    kind,
                    i1 + k + 1 if left else None,
                    a[i1 + k] if left else "",
                    j1 + k + 1 if right else None,
                    b[j1 + k] if right else "",
                )
            )
    return rows


@routes.get("/units/{unit_id}/reports/{period}")
async def report_page(request: web.Request) -> web.Response:
    unit_id = visible_unit_id(request)
    try:
        period = Period.parse(request.match_info["period"])
    except ValueError:
        raise web.HTTPNotFound() from None
    unit = await _unit(request, unit_id)
    ctx = context_of(request)
    async with ctx.db.sessions() as session:
        found = await versions(session, unit_id, period)
        attached = await files_of_versions(session, [version.id for version in found])
    by_number = {version.version: version for version in found}
    diff: list[DiffRow] = []
    left = right = None
    if len(found) >= 2:
        left = by_number.get(as_id(request.query.get("a", found[-2].version)) or 0, found[-2])
        right = by_number.get(as_id(request.query.get("b", found[-1].version)) or 0, found[-1])
        if left is not None and right is not None:
            diff = line_diff(left.text, right.text)
    return render(
        request,
        "report.html.j2",
        unit=unit,
        period=period,
        due=ctx.policy.deadline.due_date(period),
        versions=found,
        attached={version_id: [(file, describe(file)) for file in rows] for version_id, rows in attached.items()},
        left=left,
        right=right,
        diff=diff,
    )
