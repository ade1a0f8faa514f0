"""The ``duban`` command line: one sub-command module per concern, each with a ``register`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import backup, console, documents, files, items, jobs, outbox, reports, roster, say, serve, setup
from bot.errors import CliError, ConfigError
from bot.logs import configure_logging

MODULES = (setup, serve, roster, say, reports, files, documents, items, jobs, backup, outbox, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duban", description="督办：工作机制办公室的群聊机器人")
    parser.add_argument("--config", help="配置文件路径（默认 $DUBAN_CONFIG 或 ./duban.toml）")
    parser.add_argument("-v", "--verbose", action="store_true", help="输出调试日志")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
