"""``查看 单位 [期别]`` / ``/show``: a unit's latest report and its version history."""

from __future__ import annotations

from handlers import texts
from handlers.commands.arguments import period_argument
from handlers.commands.registry import CommandContext, command
from handlers.period_marker import leading_marker
from storage.files import files_of_versions
from storage.reports import find_units
from storage.submissions import versions


def split_unit_and_period(args: str) -> tuple[str, str]:
    """``省商务厅 10月`` → (``省商务厅``, ``10月``): a trailing word that reads as a period is the period."""
    unit, _, last = args.rpartition(" ")
    if unit and (marker := leading_marker(last)) is not None and not last[marker.end :].strip():
        return unit.strip(), last
    return args.strip(), ""


@command("查看", "/show", usage="查看 单位 [期别]", summary="查看某单位最新报送内容及版本记录")
async def show(ctx: CommandContext) -> None:
    query, period_text = split_unit_and_period(ctx.args)
    if not query:
        ctx.reply(texts.SHOW_USAGE)
        ctx.audit("查看", ctx.args, "invalid")
        return
    period = period_argument(ctx, period_text, action="查看")
    if period is None:
        return
    units = await find_units(ctx.session, query)
    if not units:
        ctx.reply(texts.unit_not_found(query))
        ctx.audit("查看", ctx.args, "not_found")
        return
    if len(units) > 1:
        ctx.reply(texts.unit_ambiguous(query, [unit.name for unit in units]))
        ctx.audit("查看", ctx.args, "ambiguous")
        return
    unit = units[0]
    history = await versions(ctx.session, unit.id, period)
    if not history:
        ctx.reply(texts.unit_not_reported(unit.name, period))
    else:
        files = await files_of_versions(ctx.session, [version.id for version in history])
        ctx.reply(texts.show_report(unit.name, period, history, ctx.policy.tz, files))
    ctx.audit("查看", f"{unit.name} {period}：{len(history)}版")
