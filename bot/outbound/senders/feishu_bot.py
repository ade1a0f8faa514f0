"""Feishu custom bot (自定义机器人): ``POST {api_base}/open-apis/bot/v2/hook/TOKEN``, signed in the body."""

from __future__ import annotations

import time
from typing import ClassVar

from bot.outbound.render import Payload
from bot.outbound.senders.base import Answer, Outcome, remaining_outcome, transport_outcome
from bot.outbound.senders.context import GroupRobotSender
from bot.outbound.signing import feishu_sign

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
    return remaining_outcome(
        answer,
        PLATFORM,
        fix="请对照飞书开放平台错误码说明处理后再重发。",
        unrecognised_fix="请核对配置中该群的 webhook 地址是否正确。",
        field="code",
        busy=False,  # Feishu has no "busy, try again" code
    )


class FeishuBotSender(GroupRobotSender):
    channel: ClassVar[str] = "feishu_bot"
    platform: ClassVar[str] = "feishu"
    hook_path: ClassVar[str] = "/open-apis/bot/v2/hook/{token}"

    def api_base(self) -> str:
        return self.ctx.settings.feishu.api_base

    def classify(self, answer: Answer) -> Outcome:
        return classify(answer)

    def signed(self, url: str, payload: Payload, secret: str) -> tuple[str, Payload]:
        if secret:
            timestamp = int(time.time())
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **payload}
        return url, payload
