"""Files people sent with their reports (#10's blob store), downloaded from the console.

A liaison may fetch their own unit's files only; any other file answers 404, as if it did not exist. Files are
always sent as attachments (never shown inline, so a hostile upload cannot run in the console's origin) and
streamed chunk by chunk from the blob store.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.console.base import actor_for, context_of, path_id, refuse, viewer_of
from bot.files.worker import files_directory
from storage.blobs import BlobMissing
from storage.file_names import human_size
from storage.files import get_file, open_file
from storage.models import FileState, StoredFile

routes = web.RouteTableDef()
STATE_LABELS = {
    FileState.PENDING: "接收中",
    FileState.STORED: "已存档",
    FileState.LOST: "未能接收",
    FileState.REFUSED: "超限拒收",
}


def describe(file: StoredFile) -> str:
    """``报表.xlsx（1.2 MB）`` or ``报表.xlsx（未能接收：…）`` for a page."""
    if file.state is FileState.STORED:
        return f"{file.name}（{human_size(file.size)}）"
    reason = f"：{file.reason}" if file.reason and file.state is not FileState.PENDING else ""
    return f"{file.name}（{STATE_LABELS[file.state]}{reason}）"


@routes.get("/files/{file_id}")
async def download(request: web.Request) -> web.StreamResponse:
    file_id = path_id(request, "file_id")
    ctx = context_of(request)
    viewer = viewer_of(request)
    async with ctx.db.transaction() as session:
        file = await get_file(session, file_id)
        if file is None or (viewer.unit_id is not None and file.unit_id != viewer.unit_id):
            raise web.HTTPNotFound()
        if file.state is FileState.STORED:
            actor_for(request, session).audit("下载文件", f"#{file.id} {file.name}")
    if file.state is not FileState.STORED:
        return refuse(request, 409, f"文件《{file.name}》{STATE_LABELS[file.state]}，没有可下载的内容。")
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file.name)}",
        }
    )
    if file.size is not None:
        response.content_length = file.size
    chunks = open_file(ctx.db, files_directory(ctx.settings), file)
    try:
        first = await anext(chunks, b"")
    except BlobMissing:
        return refuse(request, 410, f"文件《{file.name}》的内容在存储中找不到，请联系系统管理员。")
    await response.prepare(request)
    await response.write(first)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response
