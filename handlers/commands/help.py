"""``帮助`` / ``/help``: what the sender may do — office members their commands, liaisons how to report."""

from __future__ import annotations

from datetime import datetime

from handlers import texts
from handlers.commands.registry import CommandContext, CommandSpec, command, commands
from storage.models import Person, Role
from storage.policy import Policy

# The order office members read their commands in: the daily ones first; others follow as registered.
HELP_ORDER = ("帮助", "统计", "查看", "催办", "通知", "确认", "重发")


def ordered(specs: list[CommandSpec]) -> list[CommandSpec]:
    rank = {name: index for index, name in enumerate(HELP_ORDER)}
    return sorted(specs, key=lambda spec: rank.get(spec.name, len(rank)))


CONSOLE_WORD = "登录"  # offered only where the office runs the web console


def available(policy: Policy) -> list[CommandSpec]:
    return [spec for spec in commands() if spec.name != CONSOLE_WORD or policy.console_url]


def help_text(person: Person, policy: Policy, now: datetime, *, lead: str = "") -> str:
    """The help ``person`` gets: the office's command list, or a liaison's guide to reporting."""
    if person.role is Role.OFFICE:
        return texts.office_help(ordered(available(policy)), lead=lead)
    unit = person.unit.name if person.unit is not None else ""
    open_to_all = [spec for spec in available(policy) if not spec.office_only and spec.name != "帮助"]
    return texts.liaison_help(
        person,
        unit,
        policy.deadline.open_period(now),
        policy.deadline,
        policy.office_name,
        open_to_all,
        join_minutes=int(policy.file_join_window.total_seconds() // 60),
        max_megabytes=policy.max_file_bytes / 1024 / 1024,
    )


@command("帮助", "/help", usage="帮助", summary="查看可用命令和使用说明", office_only=False)
async def show_help(ctx: CommandContext) -> None:
    ctx.reply(help_text(ctx.person, ctx.policy, ctx.now))
