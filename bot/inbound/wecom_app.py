"""``GET|POST /wecom/app``: a WeCom self-built app (自建应用), which receives members' 1:1 messages.

The body is XML ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``; the plaintext is XML again. Both are parsed
by xmltodict (the parser wechatpy uses) with entities disabled, so an entity declaration (a billion-laughs
bomb, an external entity) is refused before anything expands. Answers go out later through the app message
API, addressed to the sender's userid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

from bot.app import Channel
from bot.config import Settings
from bot.inbound.edge import Inbox, bad_request, text_of
from bot.inbound.wecom_callback import callback_crypto, wecom_channel
from storage.inbox import InboundMessage, ReplyRoute

CHANNEL = "wecom_app"
PATH = "/wecom/app"
OFF_REASON = (
    "未配置 [wecom.app] corp_id、token 与 encoding_aes_key"
    "（或环境变量 DUBAN_WECOM__APP__CORP_ID、DUBAN_WECOM__APP__TOKEN、DUBAN_WECOM__APP__ENCODING_AES_KEY）"
)


def parse_xml(text: str, what: str) -> dict[str, Any]:
    """The children of the ``<xml>`` root; malformed XML and any entity declaration are a 400."""
    try:
        document = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError, RecursionError):
        raise bad_request(f"{what} is not acceptable XML") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise bad_request(f"{what} has no <xml> root")
    return dict(root)


def _sent_at(create_time: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(create_time), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def parse_app_message(plaintext: str) -> InboundMessage:
    data = parse_xml(plaintext, "decrypted message")
    userid = text_of(data.get("FromUserName"))
    create_time = text_of(data.get("CreateTime"))
    msgtype = text_of(data.get("MsgType")).lower() or "unknown"
    if msgtype == "event":
        event = text_of(data.get("Event")).lower()
        message_id = f"event:{userid}:{create_time}:{event}"
    else:
        message_id = text_of(data.get("MsgId")) or f"{msgtype}:{userid}:{create_time}"
    text, attachments = _content(msgtype, data)
    return InboundMessage(
        platform="wecom",
        channel=CHANNEL,
        message_id=message_id,
        sender_id=userid,
        text=text.strip(),
        chat_id=userid,
        chat_type="single",
        msgtype=msgtype,
        attachments=attachments,
        sent_at=_sent_at(create_time),
        reply=ReplyRoute(
            channel="wecom_app",
            target=userid,
            rate_key=f"wecom_app:{userid}",
            address={"touser": userid},
        ),
        raw=data,
    )


def _content(msgtype: str, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the attachments (with their platform media ids) of each message type."""
    media_id = text_of(data.get("MediaId"))
    if msgtype == "text":
        return text_of(data.get("Content")), []
    if msgtype == "image":
        return "", [{"kind": "image", "media_id": media_id, "url": text_of(data.get("PicUrl"))}]
    if msgtype == "voice":  # Recognition is present when the app has speech recognition on
        return text_of(data.get("Recognition")), [
            {"kind": "voice", "media_id": media_id, "format": text_of(data.get("Format"))}
        ]
    if msgtype == "file":
        name = text_of(data.get("FileName")) or text_of(data.get("Title"))
        return "", [{"kind": "file", "media_id": media_id, "name": name}]
    if msgtype == "video":
        return "", [{"kind": "video", "media_id": media_id, "thumb_media_id": text_of(data.get("ThumbMediaId"))}]
    if msgtype == "link":
        return "\n".join(filter(None, (text_of(data.get("Title")), text_of(data.get("Url"))))), []
    if msgtype == "location":
        return text_of(data.get("Label")), []
    return "", []


def _ciphertext(body: str) -> str:
    payload = text_of(parse_xml(body, "body").get("Encrypt"))
    if not payload:
        raise bad_request("no Encrypt element")
    return payload


def wecom_app_channel(settings: Settings, inbox: Inbox) -> Channel:
    config = settings.wecom.app
    if not config.enabled:
        return Channel(CHANNEL, False, [], off_reason=OFF_REASON)
    crypto = callback_crypto(
        settings, token=config.token, encoding_aes_key=config.encoding_aes_key, receive_id=config.corp_id
    )
    return wecom_channel(CHANNEL, PATH, crypto, inbox, ciphertext_of=_ciphertext, message_of=parse_app_message)
