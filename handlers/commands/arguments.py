"""Reading the arguments office commands share: a period, written as people write it."""

from __future__ import annotations

from handlers.commands.registry import CommandContext
from handlers.period_marker import parse_period
from storage.periods import Period


def period_argument(ctx: CommandContext, text: str, *, action: str) -> Period | None:
    """The period ``text`` names (the open period when empty); on a bad one, answer and audit, and ``None``."""
    if not text.strip():
        return ctx.policy.deadline.open_period(ctx.now)
    current = Period.of(ctx.now.astimezone(ctx.policy.tz).date())
    try:
        return parse_period(text, current)
    except ValueError as exc:
        ctx.reply(str(exc))
        ctx.audit(action, text, "invalid")
        return None
