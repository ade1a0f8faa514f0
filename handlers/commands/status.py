"""``统计 [期别]`` / ``/status``: which units reported on time, late, or not at all."""

from __future__ import annotations

from handlers.commands.arguments import period_argument
from handlers.commands.registry import CommandContext, command
from handlers.commands.rounds import monthly_status, round_status


@command("统计", "/status", usage="统计 [期别]", summary="查看报送情况：按时、逾期、未报送的单位及按时报送率")
async def status(ctx: CommandContext) -> None:
    """``统计 [期别]`` for the monthly report (its round's number shown); ``统计 #N`` for round #N."""
    if ctx.args.startswith("#"):
        await round_status(ctx)
        return
    period = period_argument(ctx, ctx.args, action="统计")
    if period is None:
        return
    await monthly_status(ctx, period)
