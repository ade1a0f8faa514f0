"""``duban files list [--period YYYY-MM] [--unit NAME] [--json]`` and ``duban files get ID -o PATH``.

The parser only; :mod:`bot.cli.stored_files` does the work and is imported when one of these commands runs.
"""

from __future__ import annotations

import argparse

from bot.cli.base import SubParsers


def register(sub: SubParsers) -> None:
    files = sub.add_parser("files", help="查看和取出联络员发送的文件")
    actions = files.add_subparsers(dest="files_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="列出文件（按期别、单位）")
    listing.add_argument("--period", help="期别，写作 YYYY-MM")
    listing.add_argument("--unit", help="单位名称（可写部分名称）")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出")
    listing.set_defaults(func=cmd_list)
    get = actions.add_parser("get", help="取出一个文件（原样字节）")
    get.add_argument("id", type=int, help="文件编号（见 duban files list）")
    get.add_argument("-o", "--output", required=True, help="保存到的文件路径（不覆盖已有文件）")
    get.set_defaults(func=cmd_get)


def cmd_list(args: argparse.Namespace) -> int:
    from bot.cli.stored_files import cmd_list

    return cmd_list(args)


def cmd_get(args: argparse.Namespace) -> int:
    from bot.cli.stored_files import cmd_get

    return cmd_get(args)
