"""``duban say --as USER [--group NAME] TEXT`` and ``duban sandbox show``: the sandbox chat from the command line.

The parser only; :mod:`bot.cli.sandbox_chat` does the work and is imported when one of these commands runs.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.base import CliError, SubParsers, settings_of

DEFAULT_WAIT_SECONDS = 15.0


def register(sub: SubParsers) -> None:
    say = sub.add_parser("say", help="在沙箱中以名册上某人的身份发言，并显示机器人的回复")
    say.add_argument("--as", dest="as_user", required=True, metavar="USER", help="姓名、手机号、企业微信或钉钉账号")
    say.add_argument("--group", metavar="NAME", help="在哪个群里发言（默认与机器人单聊）")
    say.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"由运行中的服务处理时，最多等待回复的秒数（默认 {DEFAULT_WAIT_SECONDS:.0f}）",
    )
    say.add_argument("text", nargs="+", help="发言内容（以 - 开头时请先写 --）")
    say.set_defaults(func=cmd_say)

    sandbox = sub.add_parser("sandbox", help="沙箱聊天记录").add_subparsers(
        dest="sandbox_command", required=True, metavar="ACTION"
    )
    show = sandbox.add_parser("show", help="显示沙箱聊天记录（谁说了什么、机器人答了什么）")
    show.add_argument("--chat", metavar="NAME", help="群名，或 dm:<名册编号> 表示单聊（默认全部）")
    show.add_argument("--last", type=int, default=20, metavar="N", help="显示最近 N 条（默认 20）")
    show.set_defaults(func=cmd_sandbox_show)


def cmd_say(args: argparse.Namespace) -> int:
    from bot.cli.sandbox_chat import say

    text = " ".join(args.text).strip()
    if not text:
        raise CliError("发言内容不能为空。")
    return asyncio.run(say(settings_of(args), args.as_user, args.group, text, max(args.wait, 0.0)))


def cmd_sandbox_show(args: argparse.Namespace) -> int:
    from bot.cli.sandbox_chat import sandbox_show

    if args.last < 1:
        raise CliError("--last 应为正整数。")
    return asyncio.run(sandbox_show(settings_of(args), args.chat, args.last))
