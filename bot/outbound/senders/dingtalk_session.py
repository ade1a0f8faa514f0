"""DingTalk reply through the ``sessionWebhook`` of an inbound message (valid until it expires)."""

from __future__ import annotations

import time
from typing import ClassVar

from bot.outbound.render import Payload
from bot.outbound.senders.base import (
    BUSY,
    Answer,
    Outcome,
    Undeliverable,
    post_json,
    remaining_outcome,
    transport_outcome,
)
from bot.outbound.senders.context import ContextSender
from storage.outbox_claim import Claim

PLATFORM = "钉钉"
EXPIRY_MARGIN_MS = 5_000
BLOCK_WAIT = 600.0 + 15.0


def _expired() -> Outcome:
    return Outcome.permanent(
        "会话回复地址（sessionWebhook）已过期，未发送",
        "无需处理；如需告知对方，请另行发送。",
        errcode="expired",
        alert=False,
    )


def classify(answer: Answer) -> Outcome:
    """The one place that decides what a ``sessionWebhook`` answer means (expired: fail quietly)."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code == 130101:
        return Outcome.retry("发送过快，钉钉已限流", errcode=code, detail=message, wait=BLOCK_WAIT)
    lowered = message.lower()
    if code == 300001 or (code != BUSY and ("session" in lowered or "expire" in lowered or "过期" in message)):
        outcome = _expired()
        return Outcome.permanent(outcome.cause, outcome.fix, errcode=code, detail=message, alert=False)
    return remaining_outcome(
        answer, PLATFORM, fix="请对照钉钉开放平台错误码说明处理。", unrecognised_fix="请联系系统维护人员。"
    )


class DingtalkSessionSender(ContextSender):
    channel: ClassVar[str] = "dingtalk_session"

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        url = claim.address.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Undeliverable(
                Outcome.permanent("会话回复地址缺失", "请联系系统维护人员。", errcode="no_url", alert=False)
            )
        expires_at_ms = claim.address.get("expires_at_ms")
        if isinstance(expires_at_ms, int) and time.time() * 1000 >= expires_at_ms - EXPIRY_MARGIN_MS:
            raise Undeliverable(_expired())
        return classify(await post_json(self.ctx.http, url, payload))
