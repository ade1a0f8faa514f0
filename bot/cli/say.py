"""``duban say --as USER [--group NAME] TEXT`` and ``duban sandbox show``: the sandbox chat from the command line.

``say`` speaks as a roster person through the very pipeline a platform message takes. When a service answers at
the configured address, one request to its ``/sandbox/say`` does it all: the service (which validated the
configuration when it started) checks the group, names the person, stores the message, waits (within ``--wait``)
until it is handled and answered, and returns what the bot said. That path reads only the service's address from
the configuration (:func:`bot.config_files.service_address`) and needs only the standard library: no pydantic, no
database driver, no SQLAlchemy, so the round trip is the service's work plus the start of Python. Without a
service (or with its sandbox off) the settings are loaded and validated as by every command and the pipeline runs
in this process (:mod:`bot.cli.sandbox_chat`). Either way ``say`` then prints what the bot said.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.cli.base import CliError, SubParsers, run_async, settings_of
from bot.sandbox_address import SAY_PATH, is_loopback, unconfigured_group

if TYPE_CHECKING:
    from bot.config import Settings

DEFAULT_WAIT_SECONDS = 15.0
SERVICE_TIMEOUT_SECONDS = 5.0  # beyond ``--wait``: how long the service may take to answer at all
SHOWN_CHARS = 500


@dataclass(frozen=True)
class Reply:
    """One line the bot wrote in a sandbox chat."""

    chat: str
    text: str
    mentions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Said:
    """What became of a message ``say`` sent: who spoke, what the bot answered, whether it had finished."""

    speaker: str
    active: bool
    replies: list[Reply]
    complete: bool


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
    from bot.config_files import resolve_config_path, service_address
    from bot.sandbox_address import serving_address

    text = " ".join(args.text).strip()
    if not text:
        raise CliError("发言内容不能为空。")
    wait = max(args.wait, 0.0)
    address = service_address(args.config)
    # The configured address, then the one a running service noted (``make run PORT=…`` listens elsewhere).
    for candidate in dict.fromkeys((address, serving_address(resolve_config_path(args.config)))):
        if candidate is not None:
            said = say_through_service(candidate, args.as_user, args.group, text, wait)
            if said is not None:
                return show_said(said, args.group, text, wait)
    # No service took it (or the address is not plain): the settings, validated, and the same again from there.
    return say(settings_of(args), args.as_user, args.group, text, wait, service=address is None)


def cmd_sandbox_show(args: argparse.Namespace) -> int:
    from bot.cli.sandbox_chat import sandbox_show

    if args.last < 1:
        raise CliError("--last 应为正整数。")
    return run_async(sandbox_show(settings_of(args), args.chat, args.last))


def say(
    settings: Settings, who: str, group: str | None, text: str, wait_seconds: float, *, service: bool = True
) -> int:
    """Speak as ``who``: through the service at the settings' address (unless ``service`` is off: already tried),
    else in this process."""
    unknown_group = unconfigured_group(group, [g.name for g in settings.groups])
    if unknown_group:
        raise CliError(unknown_group)
    address = (settings.server.host, settings.server.port)
    said = say_through_service(address, who, group, text, wait_seconds) if service else None
    if said is None:
        from bot.cli.sandbox_chat import say_here

        said = run_async(say_here(settings, who, group, text, wait_seconds))
    return show_said(said, group, text, wait_seconds)


def show_said(said: Said, group: str | None, text: str, wait_seconds: float) -> int:
    if not said.active:
        print(f"注意：{said.speaker} 已停用，机器人会按“不在名册”处理。")
    where = f"[{group}]" if group else "[单聊]"
    print(f"{where} {said.speaker}：{shown(text)}")
    print_replies(said.replies)
    if not said.replies and said.complete:
        print("（机器人没有回复）")
    if not said.complete:
        print(f"（{wait_seconds:.0f} 秒内服务尚未处理完毕；稍后可运行 `duban sandbox show` 查看回复）")
    return 0


def service_url(host: str, port: int, path: str = SAY_PATH) -> str:
    if not is_loopback(host):  # a wildcard or public address: the service is reachable on loopback too
        host = "::1" if ":" in host else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def _post_json(url: str, body: dict[str, Any], timeout: float) -> tuple[int, bytes]:
    """POST ``body`` as JSON to the loopback service, never through a proxy the environment names."""
    import urllib.error
    import urllib.request  # here, not at the top: ``duban --help`` builds this module's parser

    request = urllib.request.Request(  # noqa: S310 -- ``url`` is the http:// address service_url builds
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def say_through_service(address: tuple[str, int], who: str, group: str | None, text: str, wait: float) -> Said | None:
    """The round trip through a running service's sandbox at ``address``; ``None`` when no service takes it."""
    from urllib.error import URLError

    body = {"as": who, "group": group, "text": text, "wait": wait}
    try:
        status, answer = _post_json(service_url(*address), body, wait + SERVICE_TIMEOUT_SECONDS)
        found: dict[str, Any] = json.loads(answer) if status in (200, 422) else {}
    except (URLError, TimeoutError, OSError, ValueError):
        return None
    if status == 422:
        raise CliError(str(found["error"]))
    if status == 400:
        raise CliError(f"服务拒绝了这条消息：{answer.decode(errors='replace')}")
    if status != 200:
        return None  # 404: the service's sandbox is off; 403/5xx: not ours to use
    speaker = found["speaker"]
    replies = [Reply(line["chat"], line["text"], list(line["mentions"])) for line in found["replies"]]
    return Said(speaker=speaker["name"], active=bool(speaker["active"]), replies=replies, complete=found["complete"])


def shown(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}……（共 {len(text)} 字）"


def print_replies(replies: Sequence[Reply]) -> None:
    for reply in replies:
        mentions = f"（提及：{'、'.join(map(str, reply.mentions))}）" if reply.mentions else ""
        print(f"[{reply.chat}] 机器人{mentions}：")
        for line in reply.text.splitlines() or [""]:
            print(f"  {line}")
