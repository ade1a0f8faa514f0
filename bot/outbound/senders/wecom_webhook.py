"""WeCom group robot (群机器人): ``POST {api_base}/cgi-bin/webhook/send?key=KEY``."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import Answer, Kind, Outcome, post_file, remaining_outcome, transport_outcome
from bot.outbound.senders.context import GroupRobotSender, group_of, webhook_url
from bot.outbound.senders.files import FileSender, Uploaded
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim

PLATFORM = "企业微信"
SEND_PATH = "/cgi-bin/webhook/send?key={token}"
INVALID_MEDIA = 40007  # invalid media_id: expired (3 days) or uploaded by another robot
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


def upload_url(webhook: str, api_base: str) -> str:
    """The robot's ``webhook/upload_media`` address (same host and key as its ``webhook/send``)."""
    send = webhook_url(webhook, api_base, SEND_PATH)
    parts = urlsplit(send)
    path = parts.path.removesuffix("/send") + "/upload_media"
    query = urlencode([*parse_qsl(parts.query), ("type", "file")])
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


class WecomWebhookSender(FileSender, GroupRobotSender):
    """Text to a group; a file by ``webhook/upload_media`` then ``msgtype: file`` (the id is only this robot's)."""

    channel: ClassVar[str] = "wecom_webhook"
    platform: ClassVar[str] = "wecom"
    hook_path: ClassVar[str] = SEND_PATH
    platform_name = PLATFORM

    def api_base(self) -> str:
        return self.ctx.settings.wecom.api_base

    def classify(self, answer: Answer) -> Outcome:
        return classify(answer)

    def check_ready(self, claim: Claim) -> None:
        group_of(self.ctx, claim, self.platform)  # a group no longer configured is undeliverable

    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        group = group_of(self.ctx, claim, self.platform)
        return render(message, self.channel, keywords=group.keywords)

    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        return await GroupRobotSender.send(self, claim, payload)

    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        group = group_of(self.ctx, claim, self.platform)
        answer = await post_file(self.ctx.http, upload_url(group.webhook, self.api_base()), name, content)
        outcome = classify(answer)
        media_id = (answer.body or {}).get("media_id")
        if outcome.kind is Kind.OK and isinstance(media_id, str) and media_id:
            return Uploaded(media_id)
        return outcome if outcome.kind is not Kind.OK else Outcome.retry("上传文件的答复中没有 media_id")

    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        return await self.send_text(claim, {"msgtype": "file", "file": {"media_id": media_id}})

    def media_refused(self, outcome: Outcome) -> bool:
        return outcome.errcode == str(INVALID_MEDIA)
