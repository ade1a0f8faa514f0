"""``duban export --period YYYY-MM -o FILE.zip``: the 台账 and every unit's files, in one zip.

Layout: ``台账-2026-10.xlsx`` at the top, then ``单位/第N版/文件名`` for each stored file — versions apart, names
made safe (:mod:`storage.file_names`) and unique within a version. Python's ``zipfile`` marks non-ASCII names
as UTF-8 (general purpose flag bit 11), which Windows Explorer, WPS and 7-Zip honour. Files are streamed into
the archive chunk by chunk (ZIP64 where needed), so memory stays flat whatever their size. Files that could
not be fetched are named in ``文件清单.txt`` with the reason.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path

from openpyxl import Workbook

from storage.db import Database
from storage.file_names import human_size
from storage.files import FileFilter, list_files, open_file, version_folder_name
from storage.models import FileState, StoredFile


def file_names_by_unit(files: Sequence[StoredFile]) -> dict[int, list[str]]:
    """What the 台账 row of each unit says about its files."""
    named: dict[int, list[str]] = {}
    for file in files:
        if file.unit_id is None:
            continue
        version = f"第{file.submission.version}版" if file.submission is not None else ""
        state = human_size(file.size) if file.state is FileState.STORED else "未能接收"
        named.setdefault(file.unit_id, []).append(f"{file.name}（{version}，{state}）")
    return named


async def period_files(db: Database, period: str) -> list[StoredFile]:
    async with db.sessions() as session:
        return await list_files(session, FileFilter(period=period))


def _manifest(files: Sequence[StoredFile], tz: tzinfo) -> str:
    lines = ["编号\t单位/版本\t文件名\t大小\t状态\tsha256\t收到时间"]
    for file in files:
        state = {"stored": "已存档", "pending": "接收中", "lost": "未能接收", "refused": "超限拒收"}[file.state.value]
        if file.reason and file.state is not FileState.STORED:
            state += f"：{file.reason}"
        lines.append(
            "\t".join(
                [
                    str(file.id),
                    version_folder_name(file.unit, file.submission),
                    file.name,
                    human_size(file.size) if file.size is not None else "",
                    state,
                    file.sha256 or "",
                    file.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                ]
            )
        )
    return "\n".join(lines) + "\n"


async def write_export_zip(
    db: Database,
    directory: Path,
    output: Path,
    *,
    workbook: Workbook,
    ledger_name: str,
    files: Sequence[StoredFile],
    tz: tzinfo,
) -> int:
    """Write the archive to ``output`` (via a ``.partial`` file); how many files it holds."""
    partial = output.with_name(output.name + ".partial")
    count = 0
    try:
        with zipfile.ZipFile(partial, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            book = io.BytesIO()
            workbook.save(book)
            archive.writestr(ledger_name, book.getvalue())
            archive.writestr("文件清单.txt", _manifest(files, tz).encode("utf-8-sig"))
            for file in files:
                if file.state is not FileState.STORED:
                    continue
                path = f"{version_folder_name(file.unit, file.submission)}/{file.name}"
                with archive.open(path, "w", force_zip64=True) as target:
                    async for chunk in open_file(db, directory, file):
                        target.write(chunk)
                count += 1
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return count
