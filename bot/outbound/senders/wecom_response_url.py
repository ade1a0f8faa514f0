"""WeCom 智能机器人 reply: ``POST response_url`` with a markdown body — once, within an hour.

The once-only rule is kept by the dispatcher's rate policy (a key that already carried a request that may
have succeeded is never used again); the age check happens here, before any request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from bot.outbound.render import Payload
from bot.outbound.senders.base import BUSY, Answer, Outcome, Undeliverable, post_json, transport_outcome
from bot.outbound.senders.context import ContextSender
from storage.outbox_claim import Claim

PLATFORM = "企业微信"
VALID_FOR = timedelta(minutes=58)  # WeCom: one hour from the callback; keep a margin for our own delay


def classify(answer: Answer) -> Outcome:
    """The one place that decides what a ``response_url`` answer means.

    A refused reply route is not something the office can fix (it expired or was used): the row fails
    quietly.
    """
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code in (BUSY, 45009):
        return Outcome.retry("企业微信暂时无法受理回复", errcode=code, detail=message, wait=5.0)
    return Outcome.permanent(
        "回复地址已失效或已被使用，企业微信未受理",
        "无需处理；如需告知对方，请另行发送。",
        errcode=code,
        detail=message,
        alert=False,
    )


class WecomResponseUrlSender(ContextSender):
    channel: ClassVar[str] = "wecom_response_url"

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        url = claim.address.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Undeliverable(
                Outcome.permanent("回复地址缺失", "请联系系统维护人员。", errcode="no_url", alert=False)
            )
        if datetime.now(UTC) - claim.created_at > VALID_FOR:
            raise Undeliverable(
                Outcome.permanent(
                    "回复地址已超过 1 小时有效期，未发送",
                    "无需处理；如需告知对方，请另行发送。",
                    errcode="expired",
                    alert=False,
                )
            )
        return classify(await post_json(self.ctx.http, url, payload))
