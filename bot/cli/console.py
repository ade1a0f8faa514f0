"""``duban console link --as NAME``: a one-time sign-in link to the web console (first sign-in, demo, recovery)."""

from __future__ import annotations

import argparse
import getpass
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, checked_database, run_async, settings_of

if TYPE_CHECKING:
    from bot.config import Settings

LINK_MINUTES = 10  # storage.console_auth.LINK_TTL, named here so that --help loads nothing heavy


def register(sub: SubParsers) -> None:
    console = sub.add_parser("console", help="网页控制台").add_subparsers(
        dest="console_command", required=True, metavar="ACTION"
    )
    link = console.add_parser(
        "link", help=f"为名册中的人员生成一次性登录链接（{LINK_MINUTES} 分钟内有效，只能使用一次）"
    )
    link.add_argument("--as", dest="as_user", required=True, metavar="USER", help="姓名、手机号、企业微信或钉钉账号")
    link.set_defaults(func=cmd_link)


def _shell_user() -> str:
    try:
        return f"命令行（{getpass.getuser()}）"
    except (KeyError, OSError):
        return "命令行"


async def make_link(settings: Settings, who: str) -> tuple[str, str]:
    """The link and the name of the person it is for."""
    from bot.policy import policy_from_settings
    from handlers.services.actor import Actor, Refused
    from handlers.services.signin import issue_link
    from storage.models import utcnow
    from storage.sandbox import SpeakerUnclear, resolve_speaker

    async with checked_database(settings) as db, db.transaction() as session:
        try:
            person = await resolve_speaker(session, who)
        except SpeakerUnclear as exc:
            raise CliError(str(exc)) from None
        actor = Actor(session, None, policy_from_settings(settings), utcnow(), "cli", name=_shell_user())
        try:
            return await issue_link(actor, person), person.name
        except Refused as refusal:
            failure = refusal
    raise CliError(failure.message, code=2)


def cmd_link(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if not settings.console.enabled:
        raise CliError("网页控制台未开启（配置 [console] enabled = false）。", code=2)
    url, name = run_async(make_link(settings, args.as_user))
    print(f"{name}的控制台登录链接（{LINK_MINUTES} 分钟内有效，只能使用一次）：")
    print(url)
    return 0
