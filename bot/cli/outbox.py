"""``duban outbox list [--failed|--uncertain|--pending] [--limit N]`` and ``duban outbox resend ID``."""

from __future__ import annotations

import argparse
import getpass
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, checked_database, run_async, settings_of
from bot.cli.roster import render_table

if TYPE_CHECKING:
    from bot.config import Settings
    from storage.models import OutboxMessage, OutboxState

TIME = "%Y-%m-%d %H:%M"
CAUSE_CHARS = 40
FILTERS = ("failed", "uncertain", "pending")  # the flags of ``outbox list``, named as the states' values


def register(sub: SubParsers) -> None:
    outbox = sub.add_parser("outbox", help="发送队列：查看未送达、待核实的消息并重发")
    commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="COMMAND")

    show = commands.add_parser("list", help="列出发送队列中的消息（最新的在前）")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--failed", action="store_true", help="只列发送失败的")
    which.add_argument("--uncertain", action="store_true", help="只列待核实的（发送中断、无法确认是否送达）")
    which.add_argument("--pending", action="store_true", help="只列待发送的")
    show.add_argument("--limit", type=int, default=20, help="最多列出多少条（默认 20）")
    show.set_defaults(func=cmd_list)

    again = commands.add_parser("resend", help="重发一条发送失败、待核实或已送达的消息")
    again.add_argument("id", metavar="ID", help="消息编号（见 duban outbox list）")
    again.set_defaults(func=cmd_resend)


def _cause(row: OutboxMessage) -> str:
    text = " ".join((row.last_error or "").split())
    return text if len(text) <= CAUSE_CHARS else text[: CAUSE_CHARS - 1] + "…"


def outbox_table(rows: list[OutboxMessage], settings: Settings) -> str:
    from bot.outbound.alerts import channel_label
    from storage.outbox_ops import STATE_LABELS

    headers = ["编号", "状态", "发往", "渠道", "来源", "尝试", "错误码", "原因", "生成时间"]
    cells = [
        [
            str(row.id),
            STATE_LABELS[row.state],
            row.target,
            channel_label(row.channel),
            row.origin,
            str(row.attempts),
            row.errcode or "",
            _cause(row),
            row.created_at.astimezone(settings.tz).strftime(TIME),
        ]
        for row in rows
    ]
    return render_table(headers, cells)


async def _list(settings: Settings, states: list[OutboxState], limit: int) -> str:
    from storage.models import OutboxState
    from storage.outbox_ops import STATE_LABELS, list_rows, state_counts

    async with checked_database(settings) as db, db.sessions() as session:
        rows = await list_rows(session, states=states or None, limit=limit)
        counts = await state_counts(session)
    summary = "，".join(f"{STATE_LABELS[state]} {counts[state]}" for state in OutboxState if counts[state])
    lines = [f"发送队列：{summary or '空'}"]
    if rows:
        lines += ["", outbox_table(rows, settings)]
    else:
        lines.append("没有符合条件的消息。")
    if any(row.state in (OutboxState.FAILED, OutboxState.UNCERTAIN) for row in rows):
        lines += ["", "核实或排除原因后，可运行 duban outbox resend 编号 重发（群内发送「重发 编号」亦可）。"]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise CliError("--limit 应在 1 到 1000 之间。", code=2)
    from storage.models import OutboxState

    states = [OutboxState(name) for name in FILTERS if getattr(args, name)]
    print(run_async(_list(settings_of(args), states, args.limit)))
    return 0


async def _resend(settings: Settings, outbox_id: int, actor: str) -> OutboxMessage:
    from bot.policy import policy_from_settings
    from handlers.services.actor import Actor, Refused
    from handlers.services.outbox import resend
    from storage.models import utcnow

    async with checked_database(settings) as db, db.transaction() as session:
        who = Actor(session, None, policy_from_settings(settings), utcnow(), "cli", name=actor)
        try:
            return await resend(who, outbox_id)
        except Refused as exc:
            refusal = exc  # committed with its audit entry
    if refusal.outcome == "not_found":
        raise CliError(f"没有编号为 {outbox_id} 的消息。", code=2)
    raise CliError(refusal.message, code=2)


def cmd_resend(args: argparse.Namespace) -> int:
    text = str(args.id).lstrip("#")
    if not text.isdigit():
        raise CliError(f"消息编号应为数字（见 duban outbox list）；收到“{args.id}”。", code=2)
    outbox_id = int(text)
    copy = run_async(_resend(settings_of(args), outbox_id, f"命令行:{getpass.getuser()}"))
    print(f"已将消息 #{outbox_id} 重新排队，新编号 #{copy.id}（发往 {copy.target}）；服务运行时将随即发送。")
    return 0
