"""What ``duban files list`` and ``duban files get`` do (the parser is :mod:`bot.cli.files`)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bot.cli.base import CliError, checked_database, run_async, settings_of
from bot.cli.roster import render_table
from bot.config import Settings
from bot.files.worker import files_directory
from bot.policy import policy_from_settings
from storage.blobs import BlobMissing
from storage.file_names import human_size
from storage.files import FileFilter, get_file, list_files, open_file
from storage.models import FileState, StoredFile
from storage.periods import Period
from storage.reports import find_units

STATE_LABELS = {
    FileState.PENDING: "接收中",
    FileState.STORED: "已存档",
    FileState.LOST: "未能接收",
    FileState.REFUSED: "超限拒收",
}


def file_document(file: StoredFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "name": file.name,
        "original_name": file.original_name,
        "kind": file.kind,
        "state": file.state.value,
        "reason": file.reason,
        "size": file.size,
        "sha256": file.sha256,
        "content_type": file.content_type,
        "unit": file.unit.name if file.unit is not None else None,
        "period": file.period,
        "version": file.submission.version if file.submission is not None else None,
        "sender": file.person.name if file.person is not None else file.sender_id,
        "channel": file.channel,
        "received_at": file.received_at.isoformat(),
        "text_chars": len(file.text),
        "text_note": file.text_note,
    }


async def _list(settings: Settings, period: str | None, unit: str | None) -> list[StoredFile]:
    async with checked_database(settings) as db, db.sessions() as session:
        unit_id = None
        if unit:
            units = await find_units(session, unit)
            if len(units) != 1:
                names = "、".join(found.name for found in units) or "无"
                raise CliError(f"单位“{unit}”应恰好对应一个在册单位（找到：{names}）。", code=2)
            unit_id = units[0].id
        return await list_files(session, FileFilter(period=period, unit_id=unit_id))


def cmd_list(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    period = None
    if args.period:
        try:
            period = str(Period.parse(args.period))
        except ValueError:
            raise CliError(f"期别应写作 YYYY-MM，例如 2026-10；收到“{args.period}”。", code=2) from None
    files = run_async(_list(settings, period, args.unit))
    if args.json:
        print(json.dumps([file_document(file) for file in files], ensure_ascii=False, indent=2))
        return 0
    if not files:
        print("没有符合条件的文件。")
        return 0
    tz = policy_from_settings(settings).tz
    rows = [
        [
            str(file.id),
            file.period or "",
            file.unit.name if file.unit is not None else "",
            f"第{file.submission.version}版" if file.submission is not None else "",
            file.name,
            human_size(file.size) if file.size is not None else "",
            STATE_LABELS[file.state],
            file.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        ]
        for file in files
    ]
    print(render_table(["编号", "期别", "单位", "版本", "文件名", "大小", "状态", "收到时间"], rows))
    return 0


async def _get(settings: Settings, file_id: int, output: Path) -> StoredFile:
    async with checked_database(settings) as db:
        async with db.sessions() as session:
            file = await get_file(session, file_id)
        if file is None:
            raise CliError(f"没有编号为 {file_id} 的文件。", code=2)
        if file.state is not FileState.STORED:
            raise CliError(f"文件 {file_id}《{file.name}》{STATE_LABELS[file.state]}，没有可取出的内容。", code=2)
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("xb") as target:
                async for chunk in open_file(db, files_directory(settings), file):
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            partial.replace(output)
        except BlobMissing:
            raise CliError(f"文件 {file_id} 的内容在存储中找不到（文件目录是否随数据库一起恢复？）。") from None
        finally:
            partial.unlink(missing_ok=True)
        return file


def cmd_get(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    output = Path(args.output)
    if output.exists():
        raise CliError(f"{output} 已存在，未覆盖。请另选文件名。", code=2)
    if not output.parent.is_dir():
        raise CliError(f"目录 {output.parent} 不存在，请先创建。", code=2)
    file = run_async(_get(settings, args.id, output))
    print(f"已取出《{file.name}》（{human_size(file.size)}，sha256 {file.sha256}）：{output}")
    return 0
