"""``催办 [期别]`` / ``/remind``: chase the units still missing a report, now, in their groups."""

from __future__ import annotations

from handlers import texts
from handlers.commands.arguments import period_argument
from handlers.commands.registry import CommandContext, command
from schedules.reminders import enqueue_reminders
from storage.standing import period_standing


@command("催办", "/remind", usage="催办 [期别]", summary="立即在群内提醒尚未报送单位的联络员")
async def remind(ctx: CommandContext) -> None:
    period = period_argument(ctx, ctx.args, action="催办")
    if period is None:
        return
    missing = [unit.unit_name for unit in (await period_standing(ctx.session, period)).missing]
    if not missing:
        ctx.reply(texts.all_reported(period))
        ctx.audit("催办", f"{period}：均已报送", "nothing_to_do")
        return
    reminded = await enqueue_reminders(
        ctx.session, ctx.policy, period, now=ctx.now, origin=f"command:催办:{ctx.inbox.id}"
    )
    if not reminded:
        ctx.reply(texts.nobody_to_remind(period, missing))
        ctx.audit("催办", f"{period}：未报{len(missing)}个，均无所在群", "no_recipients")
        return
    ctx.reply(texts.reminded(period, reminded))
    ctx.audit("催办", f"{period}：{'、'.join(reminded)}")
