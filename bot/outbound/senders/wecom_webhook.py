"""WeCom group robot (群机器人): ``POST {api_base}/cgi-bin/webhook/send?key=KEY``."""

from __future__ import annotations

from typing import ClassVar

from bot.outbound.senders.base import Answer, Outcome, remaining_outcome, transport_outcome
from bot.outbound.senders.context import GroupRobotSender

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
    return remaining_outcome(
        answer,
        PLATFORM,
        fix="请对照企业微信全局错误码说明处理后再重发。",
        unrecognised_fix="请核对配置中该群的 webhook 地址是否正确。",
    )


class WecomWebhookSender(GroupRobotSender):
    channel: ClassVar[str] = "wecom_webhook"
    platform: ClassVar[str] = "wecom"
    hook_path: ClassVar[str] = "/cgi-bin/webhook/send?key={token}"

    def api_base(self) -> str:
        return self.ctx.settings.wecom.api_base

    def classify(self, answer: Answer) -> Outcome:
        return classify(answer)
