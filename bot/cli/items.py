"""``duban items export -o FILE.xlsx``: the 督办 ledger (督办事项台账) as a spreadsheet."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, checked_database, run_async, settings_of

if TYPE_CHECKING:
    from openpyxl import Workbook

    from bot.config import Settings
    from storage.policy import Policy


def register(sub: SubParsers) -> None:
    items = sub.add_parser("items", help="督办事项：导出台账").add_subparsers(
        dest="items_command", required=True, metavar="ACTION"
    )
    export = items.add_parser("export", help="导出督办事项台账（Excel .xlsx）")
    export.add_argument("-o", "--output", required=True, help="输出文件路径，如 督办事项台账.xlsx")
    export.set_defaults(func=cmd_export)


async def _workbook(settings: Settings, policy: Policy, now: datetime) -> tuple[Workbook, int]:
    from bot.workbooks.items import build_items_workbook
    from storage import items as ledger

    async with checked_database(settings) as db, db.sessions() as session:
        items = await ledger.all_items(session, with_events=True)
        calendar = policy.schedules.calendar()
        lights = {item.id: ledger.item_light(item, calendar, now, policy.tz) for item in items}
        workbook = build_items_workbook(items, lights, tz=policy.tz, office_name=policy.office_name, now=now)
        return workbook, len(items)


def cmd_export(args: argparse.Namespace) -> int:
    from bot.policy import policy_from_settings
    from bot.workbooks.sheet import save_workbook

    settings = settings_of(args)
    policy = policy_from_settings(settings)
    output = Path(args.output)
    if output.suffix.lower() != ".xlsx":
        raise CliError(f"输出文件应以 .xlsx 结尾（收到 {output}）。", code=2)
    if not output.parent.is_dir():
        raise CliError(f"目录 {output.parent} 不存在，请先创建。", code=2)
    workbook, count = run_async(_workbook(settings, policy, datetime.now(UTC)))
    try:
        save_workbook(workbook, output)
    except OSError as exc:
        raise CliError(f"无法写入 {output}：{exc.strerror}") from None
    print(f"已导出督办事项台账：{output}（{count} 项）")
    return 0
