"""DingTalk custom robot (自定义机器人): ``POST {api_base}/robot/send?access_token=TOKEN[&timestamp&sign]``."""

from __future__ import annotations

import re
import time
from typing import ClassVar

from bot.outbound.render import Payload
from bot.outbound.senders.base import Answer, Outcome, remaining_outcome, transport_outcome
from bot.outbound.senders.context import GroupRobotSender
from bot.outbound.signing import dingtalk_signed_url

PLATFORM = "钉钉"
BLOCK_WAIT = 600.0 + 15.0  # a robot over 20/min is throttled for 10 minutes (errcode 130101)
_IP = re.compile(r"(?i)\bip\b|白名单")


def _security(message: str) -> tuple[str, str]:
    """errcode 310000 covers four different faults; its errmsg tells them apart."""
    lowered = message.lower()
    if "keyword" in lowered or "关键词" in message:
        return (
            "消息不含机器人安全设置中的自定义关键词",
            "请在配置中该群的 keywords 填写与钉钉机器人安全设置一致的关键词（任意一个即可），重启服务后再重发。",
        )
    if "timestamp" in lowered or "时间戳" in message:
        return ("加签时间戳已失效（服务器时间可能不准）", "请校准服务器时间（开启 NTP 同步）后再重发。")
    if "sign" in lowered or "签名" in message:
        return (
            "加签校验未通过",
            "请核对配置中该群的 secret 是否为钉钉机器人安全设置“加签”中的密钥（以 SEC 开头），重启服务后再重发。",
        )
    if _IP.search(message):
        return (
            "服务器出口 IP 不在机器人安全设置的 IP 地址（段）内",
            "请在钉钉机器人安全设置的“IP 地址（段）”中加入本服务的出口 IP，或改用“加签”，然后再重发。",
        )
    return ("钉钉机器人安全校验未通过", "请核对机器人安全设置（自定义关键词、加签、IP 地址段）与配置是否一致。")


def classify(answer: Answer) -> Outcome:
    """The one place that decides what a DingTalk custom robot's answer means."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code == 130101:
        return Outcome.retry("发送过快，钉钉已将该机器人限流 10 分钟", errcode=code, detail=message, wait=BLOCK_WAIT)
    if code == 310000:
        cause, fix = _security(message)
        return Outcome.permanent(cause, fix, errcode=code, detail=message)
    if code == 300001:
        return Outcome.permanent(
            "Webhook 地址中的 access_token 无效（机器人可能已被删除）",
            "请在该群重新添加自定义机器人，把新的 Webhook 地址填入配置中该群的 webhook，重启服务后再重发。",
            errcode=code,
            detail=message,
        )
    return remaining_outcome(
        answer,
        PLATFORM,
        fix="请对照钉钉开放平台错误码说明处理后再重发。",
        unrecognised_fix="请核对配置中该群的 webhook 地址是否正确。",
    )


class DingtalkRobotSender(GroupRobotSender):
    channel: ClassVar[str] = "dingtalk_robot"
    platform: ClassVar[str] = "dingtalk"
    hook_path: ClassVar[str] = "/robot/send?access_token={token}"

    def api_base(self) -> str:
        return self.ctx.settings.dingtalk.api_base

    def classify(self, answer: Answer) -> Outcome:
        return classify(answer)

    def signed(self, url: str, payload: Payload, secret: str) -> tuple[str, Payload]:
        if secret:
            url = dingtalk_signed_url(url, secret, int(time.time() * 1000))
        return url, payload
