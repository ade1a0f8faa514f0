"""文档: the 台账 of any period and the 督办事项台账, as the .xlsx workbooks ``duban export`` writes, and a
period's archive; the Word documents themselves are in :mod:`bot.console.gongwen`."""

from __future__ import annotations

import asyncio
import io
import os
import re
import tempfile
import zipfile
from datetime import tzinfo
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook

from bot.console.base import XLSX, actor_for, attachment, context_of, refuse, render, require_office
from bot.console.filters import local
from bot.console.gongwen import CANNOT, make_document, recent_halves, recent_quarters
from bot.files.worker import files_directory
from bot.workbooks.items import build_items_workbook
from bot.workbooks.ledger import build_workbook
from schedules.documents.service import Kind
from schedules.documents.spans import month_span
from storage import items as ledger
from storage.matrix import months_ending
from storage.models import utcnow
from storage.periods import Period
from storage.reports import Ledger, period_ledger

routes = web.RouteTableDef()
PERIODS_LISTED = 12


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@routes.get("/documents")
async def documents(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    last = context_of(request).policy.deadline.open_period(utcnow())
    return render(
        request,
        "documents.html.j2",
        periods=months_ending(last, PERIODS_LISTED)[::-1],
        quarters=recent_quarters(last, 4),
        halves=recent_halves(last, 2),
    )


@routes.get("/documents/ledger/{period}.xlsx")
async def period_workbook(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    try:
        period = Period.parse(request.match_info["period"])
    except ValueError:
        return refuse(request, 404, "期别应写作 YYYY-MM。")
    ctx = context_of(request)
    async with ctx.db.transaction() as session:
        found = await period_ledger(session, period)
        actor_for(request, session).audit("下载台账", f"{period}")
    workbook = build_workbook(found, tz=ctx.policy.tz, office_name=ctx.settings.office_name)
    return attachment(workbook_bytes(workbook), f"台账-{period}.xlsx", XLSX)


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def archive_name(text: str) -> str:
    """A file name Windows, macOS and WPS all accept (an office's archive is opened on Windows)."""
    return _UNSAFE.sub("_", text).strip(" .")[:80] or "未命名"


def add_to_archive(path: Path, found: Ledger, items_xlsx: bytes, tz: tzinfo, documents: dict[str, bytes]) -> None:
    """Complete the export zip at ``path`` (台账, 文件清单 and every stored file, as ``duban export`` writes it) with
    the 督办事项台账, the period's Word documents (通报, 快报) and every unit's latest report as a text file."""
    period = found.period
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("督办事项台账.xlsx", items_xlsx)
        for name, content in documents.items():
            archive.writestr(name, content)
        for number, row in enumerate(found.rows, start=1):
            unit = row.standing
            if not unit.versions:
                continue
            received = local(unit.latest_at, tz) if unit.latest_at else ""
            head = f"{unit.unit_name} {period.label}工作进展（共{unit.versions}版，最新一版收到于{received}）\n\n"
            name = f"报送原文/{number:03d}-{archive_name(unit.unit_name)}.txt"
            archive.writestr(name, (head + row.latest_text).encode("utf-8-sig"))


@routes.get("/documents/archive/{period}.zip")
async def archive(request: web.Request) -> web.StreamResponse:
    from bot.cli.export_zip import file_names_by_unit, period_files, write_export_zip

    if (refused := require_office(request)) is not None:
        return refused
    try:
        period = Period.parse(request.match_info["period"])
    except ValueError:
        return refuse(request, 404, "期别应写作 YYYY-MM。")
    ctx = context_of(request)
    policy = ctx.policy
    now = utcnow()
    calendar = policy.schedules.calendar()
    documents: dict[str, bytes] = {}
    async with ctx.db.transaction() as session:
        found = await period_ledger(session, period)
        items = await ledger.all_items(session, with_events=True)
        for kind in (Kind.CIRCULAR, Kind.FLASH):
            try:
                built = await make_document(session, policy, kind, month_span(period), now)
            except CANNOT as exc:
                documents[f"{kind.label}-未能生成.txt"] = f"未能生成{kind.label}：{exc}".encode("utf-8-sig")
            else:
                documents[built.filename] = built.content
        actor_for(request, session).audit("下载报送归档", f"{period}")
    files = await period_files(ctx.db, str(period))
    lights = {item.id: ledger.item_light(item, calendar, now, policy.tz) for item in items}
    book = build_workbook(found, tz=policy.tz, office_name=ctx.settings.office_name, files=file_names_by_unit(files))
    items_book = workbook_bytes(
        build_items_workbook(items, lights, tz=policy.tz, office_name=policy.office_name, now=now)
    )
    with tempfile.TemporaryDirectory(prefix="duban-archive-") as folder:
        path = Path(folder) / "archive.zip"
        await write_export_zip(
            ctx.db,
            files_directory(ctx.settings),
            path,
            workbook=book,
            ledger_name=f"台账-{period}.xlsx",
            files=files,
            tz=policy.tz,
        )
        await asyncio.to_thread(add_to_archive, path, found, items_book, policy.tz, documents)
        return await send_file(request, path, f"报送归档-{period}.zip", "application/zip")


async def send_file(request: web.Request, path: Path, name: str, content_type: str) -> web.StreamResponse:
    """Stream ``path`` (which the caller removes afterwards) as a download named ``name``."""
    response = web.StreamResponse(
        headers={"Content-Type": content_type, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        response.content_length = os.fstat(handle.fileno()).st_size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
            await response.write(chunk)
    finally:
        handle.close()
    await response.write_eof()
    return response


@routes.get("/documents/items.xlsx")
async def items_workbook(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    policy = ctx.policy
    now = utcnow()
    calendar = policy.schedules.calendar()
    async with ctx.db.transaction() as session:
        items = await ledger.all_items(session, with_events=True)
        actor_for(request, session).audit("下载督办事项台账", f"{len(items)}项")
    lights = {item.id: ledger.item_light(item, calendar, now, policy.tz) for item in items}
    workbook = build_items_workbook(items, lights, tz=policy.tz, office_name=policy.office_name, now=now)
    return attachment(workbook_bytes(workbook), "督办事项台账.xlsx", XLSX)
