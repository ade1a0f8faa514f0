"""名册: upload a roster (xlsx, xls, csv), see the dry run's changes or every problem with its row, then confirm.

The confirmation carries the checked file back (the page holds it, so any instance can take the confirmation)
and imports it through the same path as ``duban roster import``: validated again as a whole, applied in one
transaction, audited. A damaged or hostile file gets the Chinese reason, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path, PurePath

from aiohttp import web
from aiohttp.web_request import FileField

from bot.console.base import XLSX, attachment, context_of, form_text, refuse, render, require_office, viewer_of
from bot.roster import RosterRejected
from bot.roster.export import roster_xlsx_bytes
from bot.roster.service import RosterImport, import_roster_file
from storage.roster import roster_rows

routes = web.RouteTableDef()
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")


@routes.get("/roster")
async def roster_page(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    async with ctx.db.sessions() as session:
        rows = await roster_rows(session, office_name=ctx.settings.office_name)
    units = {row.unit for row in rows if row.role.is_liaison}
    return render(request, "roster.html.j2", rows=rows, unit_count=len(units))


@routes.get("/roster/export.xlsx")
async def export(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    async with ctx.db.sessions() as session:
        rows = await roster_rows(session, office_name=ctx.settings.office_name)
    return attachment(roster_xlsx_bytes(rows), "名册.xlsx", XLSX)


async def _check(request: web.Request, name: str, data: bytes, *, dry_run: bool) -> RosterImport:
    ctx = context_of(request)
    viewer = viewer_of(request)
    suffix = PurePath(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="duban-roster-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        return await import_roster_file(
            ctx.db,
            ctx.settings,
            path,
            actor=viewer.person.name,
            via="console",
            dry_run=dry_run,
            person_id=viewer.person.id,
            file_name=PurePath(name).name[:100],
        )


@routes.post("/roster/check")
async def check(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, FileField) or not upload.filename:
        return refuse(request, 400, "请选择要上传的名册文件（.xlsx、.xls 或 .csv）。")
    data = upload.file.read()
    name = form_text({"name": upload.filename}, "name", 200)
    if PurePath(name).suffix.lower() not in SUFFIXES:
        problems = ["不支持的文件类型：请上传 .xlsx、.xls 或 .csv 文件。"]
        return render(request, "roster_check.html.j2", name=name, problems=problems, result=None, payload="")
    try:
        result = await _check(request, name, data, dry_run=True)
    except RosterRejected as exc:
        problems = [problem.render() for problem in exc.problems]
        return render(request, "roster_check.html.j2", name=name, problems=problems, result=None, payload="")
    payload = base64.b64encode(data).decode()
    return render(request, "roster_check.html.j2", name=name, problems=[], result=result, payload=payload)


@routes.post("/roster/import")
async def confirm(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    form = await request.post()
    name = form_text(form, "name", 200)
    try:
        data = base64.b64decode(str(form.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        return refuse(request, 400, "确认信息不完整，请重新上传名册。")
    if not data or PurePath(name).suffix.lower() not in SUFFIXES:
        return refuse(request, 400, "确认信息不完整，请重新上传名册。")
    try:
        result = await _check(request, name, data, dry_run=False)
    except RosterRejected as exc:
        problems = [problem.render() for problem in exc.problems]
        return render(request, "roster_check.html.j2", name=name, problems=problems, result=None, payload="")
    return render(request, "roster_done.html.j2", name=name, result=result)
