"""``重发 ID`` / ``/resend``: queue a fresh copy of a failed, uncertain or sent outbox row."""

from __future__ import annotations

import re
import unicodedata

from handlers import texts
from handlers.commands.items import chat_actor
from handlers.commands.registry import CommandContext, command
from handlers.services.actor import Refused
from handlers.services.outbox import resend as resend_row

_ID = re.compile(r"^#?(\d{1,18})$")


@command("重发", "/resend", usage="重发 记录编号", summary="重新发送一条失败或未确认送达的消息")
async def resend(ctx: CommandContext) -> None:
    found = _ID.match(unicodedata.normalize("NFKC", ctx.args).replace(" ", ""))
    if found is None:
        ctx.reply(texts.RESEND_USAGE)
        ctx.audit("重发", ctx.args, "invalid")
        return
    outbox_id = int(found[1])
    try:
        copy = await resend_row(chat_actor(ctx), outbox_id)
    except Refused as refusal:
        ctx.reply(refusal.message)
        return
    ctx.reply(texts.resent(outbox_id, copy.id, copy.target))
