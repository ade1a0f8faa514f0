"""``duban init``, ``duban config check`` and ``duban db upgrade|current``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, display_url, open_database, run_async, settings_of

if TYPE_CHECKING:
    from bot.config import Settings
    from storage.migrate import SchemaState

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "templates" / "duban.example.toml"


def register(sub: SubParsers) -> None:
    init = sub.add_parser("init", help="创建 var/ 目录、配置文件和数据库")
    init.add_argument("--demo", action="store_true", help="同时载入演示名册和沙箱群")
    init.add_argument("--if-missing", action="store_true", help="数据库已有名册时不再载入演示数据")
    init.set_defaults(func=cmd_init)

    config = sub.add_parser("config", help="配置文件").add_subparsers(dest="config_command", required=True)
    check = config.add_parser("check", help="检查配置文件，输出结论")
    check.set_defaults(func=cmd_config_check)

    db = sub.add_parser("db", help="数据库结构").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="把数据库升级到程序所需的版本")
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db.add_parser("current", help="显示数据库当前版本")
    current.set_defaults(func=cmd_db_current)


def cmd_init(args: argparse.Namespace) -> int:
    from bot.config import resolve_config_path
    from bot.demo import DEMO_GROUPS_TOML, load_demo_roster
    from storage import migrate

    path = resolve_config_path(args.config)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
        if args.demo:
            text += DEMO_GROUPS_TOML
        path.write_text(text, encoding="utf-8")
        print(f"已生成配置文件 {path}")
    Path("var").mkdir(exist_ok=True)
    settings = settings_of(args)
    migrate.upgrade(settings.database.url)
    print(f"数据库已就绪：{display_url(settings.database.url)}")
    if args.demo:
        loaded = run_async(load_demo_roster(settings, only_if_empty=args.if_missing))
        print("已载入演示名册。" if loaded else "数据库中已有名册，未载入演示数据。")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from bot.config import resolve_config_path

    settings = settings_of(args)
    path = resolve_config_path(args.config)
    source = str(path) if path.exists() else "（无配置文件，全部使用默认值与环境变量）"
    print(f"配置正确：{source}")
    print(f"  数据库：{display_url(settings.database.url)}")
    print(
        f"  时区：{settings.timezone}；报送截止：每月{settings.reporting.deadline_day}日 "
        f"{settings.reporting.deadline_time:%H:%M}"
    )
    print(f"  群：{len(settings.groups)} 个" + "".join(f"\n    - {g.name}（{g.platform}）" for g in settings.groups))
    print(f"  网页控制台：{settings.console_url or '未开启'}")
    for warning in config_warnings(settings):
        print(f"注意：{warning}")
    return 0


def config_warnings(settings: Settings) -> list[str]:
    """What is allowed but probably not meant (printed by ``duban config check``; the service still starts)."""
    warnings = []
    if not any(group.office for group in settings.groups):
        where = "网页控制台的“发送队列”和服务日志" if settings.console.enabled else "服务日志（网页控制台未开启）"
        warnings.append(
            "没有配置办公室群（[[groups]] 中 office = true）：消息发送失败、待核实等情况无法在群里提醒办公室，"
            f"只能在{where}中看到。"
        )
    return warnings


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage import migrate

    settings = settings_of(args)
    migrate.upgrade(settings.database.url)
    print(f"数据库已升级到 {migrate.head_revision()}。")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from storage import migrate

    settings = settings_of(args)

    async def show() -> SchemaState:
        async with open_database(settings) as db:
            return await migrate.schema_state(db)

    state = run_async(show())
    print(f"当前版本：{state.current or '（空库）'}；程序所需：{state.head}")
    if not state.up_to_date:
        raise CliError("数据库需要升级：请运行 `duban db upgrade`。", code=3)
    return 0
