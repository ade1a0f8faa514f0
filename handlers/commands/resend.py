"""``重发 ID`` / ``/resend``: queue a fresh copy of a failed, uncertain or sent outbox row."""

from __future__ import annotations

import re
import unicodedata

from handlers import texts
from handlers.commands.registry import CommandContext, command
from storage.outbox_ops import resend as resend_row

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
        copy = await resend_row(ctx.session, outbox_id, actor=ctx.person.name)
    except LookupError:
        ctx.reply(texts.resend_not_found(outbox_id))
        ctx.audit("重发", str(outbox_id), "not_found")
        return
    except ValueError as exc:
        ctx.reply(str(exc))
        ctx.audit("重发", f"{outbox_id}：{exc}", "refused")
        return
    ctx.reply(texts.resent(outbox_id, copy.id, copy.target))
    ctx.audit("重发", f"{outbox_id} → {copy.id}")
