"""One sender per outbound channel; :func:`build_senders` assembles them for a running dispatcher."""

from __future__ import annotations

from bot.outbound.senders.base import Sender
from bot.outbound.senders.context import SendContext
from bot.outbound.senders.dingtalk_app import DingtalkAppSender
from bot.outbound.senders.dingtalk_robot import DingtalkRobotSender
from bot.outbound.senders.dingtalk_session import DingtalkSessionSender
from bot.outbound.senders.feishu_bot import FeishuBotSender
from bot.outbound.senders.feishu_reply import FeishuReplySender
from bot.outbound.senders.sandbox import SandboxSender
from bot.outbound.senders.wecom_app import WecomAppSender
from bot.outbound.senders.wecom_bot_ws import WecomBotSocketSender
from bot.outbound.senders.wecom_response_url import WecomResponseUrlSender
from bot.outbound.senders.wecom_webhook import WecomWebhookSender

SENDER_TYPES: tuple[type[Sender], ...] = (
    WecomWebhookSender,
    DingtalkRobotSender,
    FeishuBotSender,
    FeishuReplySender,
    WecomResponseUrlSender,
    DingtalkSessionSender,
    DingtalkAppSender,
    WecomAppSender,
    SandboxSender,
    WecomBotSocketSender,  # built by the connection's holder (bot.transports.wecom_bot_ws), not here
)


def build_senders(ctx: SendContext) -> dict[str, Sender]:
    senders: list[Sender] = [
        WecomWebhookSender(ctx),
        DingtalkRobotSender(ctx),
        FeishuBotSender(ctx),
        FeishuReplySender(ctx),
        WecomResponseUrlSender(ctx),
        DingtalkSessionSender(ctx),
        DingtalkAppSender(ctx),
        WecomAppSender(ctx),
        SandboxSender(ctx),
    ]
    return {sender.channel: sender for sender in senders}
