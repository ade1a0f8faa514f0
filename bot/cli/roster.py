"""``duban roster import|export|show``: the roster of member units, liaisons and office members."""

from __future__ import annotations

import argparse
import getpass
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, open_checked, run_async, settings_of

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.roster import ParsedRoster
    from bot.roster.service import RosterImport
    from storage.roster import Changes, ImportSummary, RosterRow

REFUSED = 1


def register(sub: SubParsers) -> None:
    roster = sub.add_parser("roster", help="名册：导入、导出、查看").add_subparsers(
        dest="roster_command", required=True, metavar="ACTION"
    )
    load = roster.add_parser("import", help="从 .xlsx 或 .csv 导入名册（整份通过校验才导入）")
    load.add_argument("file", help="名册文件（.xlsx 或 .csv）")
    load.add_argument("--dry-run", action="store_true", help="只校验并列出将作的修改，不改动名册")
    load.set_defaults(func=cmd_import)

    export = roster.add_parser("export", help="把在册人员导出为 .xlsx 或 .csv（格式与导入相同）")
    export.add_argument("file", help="导出文件（扩展名 .xlsx 或 .csv）")
    export.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    export.set_defaults(func=cmd_export)

    show = roster.add_parser("show", help="显示名册")
    show.add_argument("--all", action="store_true", help="同时显示已停用的人员")
    show.set_defaults(func=cmd_show)


def cmd_import(args: argparse.Namespace) -> int:
    from bot.roster import RosterRejected
    from bot.roster.service import import_roster_file

    settings = settings_of(args)
    path = Path(args.file)

    async def run() -> RosterImport:
        db = await open_checked(settings)
        try:
            return await import_roster_file(db, settings, path, actor=_actor(), via="cli", dry_run=args.dry_run)
        except RosterRejected as exc:
            raise CliError(exc.render(), code=REFUSED) from None
        finally:
            await db.close()

    done = run_async(run())
    parsed, summary = done.parsed, done.summary
    print(_describe_file(path, parsed))
    if parsed.ignored_columns:
        print(f"已忽略的列：{'、'.join(parsed.ignored_columns)}")
    if parsed.warnings:
        print("请留意（不影响导入）：")
        for warning in parsed.warnings:
            print(f"  - {warning.render()}")
    print(_describe_summary(summary, dry_run=args.dry_run))
    return 0


def _actor() -> str:
    try:
        return f"命令行（{getpass.getuser()}）"
    except (KeyError, OSError):
        return "命令行"


def _describe_file(path: Path, parsed: ParsedRoster) -> str:
    from storage.models import Role

    entries = parsed.entries
    roles = Counter(entry.role for entry in entries)
    units = {entry.unit for entry in entries if entry.role.is_liaison}
    where = f"工作表「{parsed.sheet}」，" if parsed.sheet else ""
    counts = "、".join(f"{role.label} {roles[role]}" for role in Role if roles[role])
    return (
        f"已读取 {path.name}（{where}表头在第 {parsed.header_row} 行）：校验通过，"
        f"{len(units)} 个成员单位，{len(entries)} 人（{counts}）。"
    )


_CHANGE_KINDS = (("added", "新增"), ("updated", "更新"), ("reactivated", "恢复"), ("deactivated", "停用"))


def _describe_summary(summary: ImportSummary, *, dry_run: bool) -> str:
    if summary.changes == 0:
        verdict = "名册与数据库中的完全一致，没有任何修改（0 处变更）。"
        return f"试运行：{verdict}" if dry_run else verdict
    head = "试运行（未写入数据库），导入后将：" if dry_run else "导入完成："
    lines = [head, f"  {summary.describe()}"]
    for title, changes in (("人员", summary.people), ("单位", summary.units)):
        lines += _change_lines(title, changes)
    return "\n".join(lines)


def _change_lines(title: str, changes: Changes) -> list[str]:
    lines = []
    for attribute, label in _CHANGE_KINDS:
        for item in getattr(changes, attribute):
            lines.append(f"  {label}{title}：{item}")
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    path = Path(args.file)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise CliError(f"不支持导出为「{path.suffix or '无扩展名'}」：文件名请以 .xlsx 或 .csv 结尾。")
    if path.exists() and not args.force:
        raise CliError(f"文件 {path} 已存在；如需覆盖，请加 --force。")
    if not path.parent.is_dir():
        raise CliError(f"目录 {path.parent} 不存在。")
    from bot.roster import write_roster

    rows = run_async(_rows(settings, include_inactive=False))
    write_roster(path, rows)
    print(f"已导出 {len(rows)} 名在册人员到 {path}。")
    return 0


async def _rows(settings: Settings, *, include_inactive: bool) -> list[RosterRow]:
    from storage.roster import roster_rows

    db = await open_checked(settings)
    try:
        async with db.sessions() as session:
            return await roster_rows(session, office_name=settings.office_name, include_inactive=include_inactive)
    finally:
        await db.close()


def cmd_show(args: argparse.Namespace) -> int:
    from bot.roster.columns import Column, mask_mobile

    settings = settings_of(args)
    rows = run_async(_rows(settings, include_inactive=args.all))
    if not rows:
        print("名册为空：可运行 `duban roster import 文件` 导入名册。")
        return 0
    headers = [column.value for column in Column] + ["状态"]
    table = [
        [
            row.unit,
            row.division,
            row.name,
            row.role.label,
            mask_mobile(row.mobile),
            row.wecom_userid or "",
            row.dingtalk_userid or "",
            row.feishu_userid or "",
            "、".join(row.groups),
            "在册" if row.active else "已停用",
        ]
        for row in rows
    ]
    print(render_table(headers, table))
    active = [row for row in rows if row.active]
    units = {row.unit for row in active if row.role.is_liaison}
    footer = f"共 {len(units)} 个成员单位，{len(active)} 名在册人员"
    if args.all:
        footer += f"，{len(rows) - len(active)} 名已停用"
    print(footer + "。")
    return 0


def display_width(text: str) -> int:
    """Columns a terminal gives ``text``: two for each Chinese (wide) character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(display_width(line[i]) for line in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = (cell + " " * (width - display_width(cell)) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
