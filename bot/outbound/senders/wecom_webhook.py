"""WeCom group robot (群机器人): ``POST {api_base}/cgi-bin/webhook/send?key=KEY``."""

from __future__ import annotations

from typing import ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import Answer, Outcome, Sender, post_json, transport_outcome
from bot.outbound.senders.context import SendContext, group_of, message_of, webhook_url
from storage.outbox_claim import Claim

PLATFORM = "企业微信"
RATE_LIMIT_WAIT = 65.0  # clients wait about 65 s after 45009 (PLATFORMS.md)


def classify(answer: Answer) -> Outcome:
    """The one place that decides what a WeCom group robot's answer means."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code == 45009:
        return Outcome.retry(
            "发送频率超过企业微信群机器人的限制（每分钟 20 条）", errcode=code, detail=message, wait=RATE_LIMIT_WAIT
        )
    if code == -1:
        return Outcome.retry("企业微信系统繁忙", errcode=code, detail=message)
    if code == 93000:
        return Outcome.permanent(
            "群机器人的 Webhook 地址无效（key 有误，或机器人已被移出群聊）",
            "请在该群重新添加群机器人，把新的 Webhook 地址填入配置中该群的 webhook，重启服务后再重发。",
            errcode=code,
            detail=message,
        )
    if code == 40058:
        return Outcome.permanent(
            "消息内容超出企业微信的长度限制",
            "请联系系统维护人员（消息本应已按长度拆分）。",
            errcode=code,
            detail=message,
        )
    if code is None:
        return Outcome.permanent(
            "答复中没有 errcode，不像企业微信的答复", "请核对配置中该群的 webhook 地址是否正确。", detail=message
        )
    return Outcome.permanent(
        f"企业微信返回错误 {code}", "请对照企业微信全局错误码说明处理后再重发。", errcode=code, detail=message
    )


class WecomWebhookSender(Sender):
    channel: ClassVar[str] = "wecom_webhook"

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx

    def payloads(self, claim: Claim) -> list[Payload]:
        group_of(self.ctx, claim, "wecom")
        return render(message_of(claim), self.channel)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        group = group_of(self.ctx, claim, "wecom")
        url = webhook_url(group.webhook, self.ctx.settings.wecom.api_base, "/cgi-bin/webhook/send?key={token}")
        return classify(await post_json(self.ctx.http, url, payload))
