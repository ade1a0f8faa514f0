"""Feishu custom bot (自定义机器人): ``POST {api_base}/open-apis/bot/v2/hook/TOKEN``, signed in the body."""

from __future__ import annotations

import time
from typing import ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import Answer, Outcome, Sender, post_json, transport_outcome
from bot.outbound.senders.context import SendContext, group_of, message_of, webhook_url
from bot.outbound.signing import feishu_sign
from storage.outbox_claim import Claim

PLATFORM = "飞书"
RATE_LIMIT_WAIT = 2.0


def classify(answer: Answer) -> Outcome:
    """The one place that decides what a Feishu custom bot's answer means."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code == 11232:
        return Outcome.retry(
            "发送频率超过飞书机器人的限制（每分钟 100 条、每秒 5 条）",
            errcode=code,
            detail=message,
            wait=RATE_LIMIT_WAIT,
        )
    if code == 19021:
        return Outcome.permanent(
            "签名校验未通过（密钥不符，或时间戳与服务器时间相差超过 1 小时）",
            "请核对配置中该群的 secret 是否为飞书机器人“签名校验”中的密钥，并校准服务器时间，重启服务后再重发。",
            errcode=code,
            detail=message,
        )
    if code == 19022:
        return Outcome.permanent(
            "服务器出口 IP 不在飞书机器人的 IP 白名单内",
            "请在飞书机器人安全设置的 IP 白名单中加入本服务的出口 IP，然后再重发。",
            errcode=code,
            detail=message,
        )
    if code == 19024:
        return Outcome.permanent(
            "消息不含飞书机器人安全设置中的自定义关键词",
            "请在配置中该群的 keywords 填写与飞书机器人安全设置一致的关键词，重启服务后再重发。",
            errcode=code,
            detail=message,
        )
    if code == 19001:
        return Outcome.permanent(
            "Webhook 地址无效（机器人可能已被删除）",
            "请在该群重新添加自定义机器人，把新的 Webhook 地址填入配置中该群的 webhook，重启服务后再重发。",
            errcode=code,
            detail=message,
        )
    if code is None:
        return Outcome.permanent(
            "答复中没有 code，不像飞书的答复", "请核对配置中该群的 webhook 地址是否正确。", detail=message
        )
    return Outcome.permanent(
        f"飞书返回错误 {code}", "请对照飞书开放平台错误码说明处理后再重发。", errcode=code, detail=message
    )


class FeishuBotSender(Sender):
    channel: ClassVar[str] = "feishu_bot"

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx

    def payloads(self, claim: Claim) -> list[Payload]:
        group = group_of(self.ctx, claim, "feishu")
        return render(message_of(claim), self.channel, keywords=group.keywords)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        group = group_of(self.ctx, claim, "feishu")
        url = webhook_url(group.webhook, self.ctx.settings.feishu.api_base, "/open-apis/bot/v2/hook/{token}")
        secret = group.secret.get_secret_value()
        if secret:
            timestamp = int(time.time())
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **payload}
        return classify(await post_json(self.ctx.http, url, payload))
