"""``GET|POST /wecom/bot``: the WeCom 智能机器人, which receives group @-mentions and 1:1 messages.

The body is JSON ``{"encrypt": …}``, signed and encrypted like every WeCom callback with receiveid ``""``;
the plaintext is JSON (``msgid``, ``chatid``, ``chattype``, ``from.userid``, ``response_url``, ``msgtype`` and
the content under the type's name). Answers go out later through ``response_url`` (once, within an hour).

A message that quotes another carries ``quote``: ``{"msgtype": "text"|"image"|"mixed"|"voice"|"file", …}`` with
the quoted content under its type's name, shaped as a message's own (WeCom's 接收消息 document, 结构体说明 引用;
the official Node SDK's ``QuoteContent``). Its text is kept as the message's ``quoted``; quoted images and files
are not fetched. The long connection delivers the same JSON, so it is read here too.
"""

from __future__ import annotations

import re
from typing import Any

from bot.app import Channel
from bot.config import Settings
from bot.inbound.edge import Inbox, bad_request, digest_id, parse_json_object, text_of
from bot.inbound.wecom_callback import callback_crypto, wecom_channel
from storage.inbox import InboundMessage, ReplyRoute

CHANNEL = "wecom_bot"
PATH = "/wecom/bot"
OFF_REASON = (
    "未配置 [wecom.bot] token 与 encoding_aes_key"
    "（或环境变量 DUBAN_WECOM__BOT__TOKEN、DUBAN_WECOM__BOT__ENCODING_AES_KEY）"
)

# In a group the text begins with the robot's name as typed: "@督办助手 10月工作进展……". WeCom separates the
# mention from the text with a space or U+2005, both of which ``\s`` matches.
_LEADING_MENTION = re.compile(r"^\s*@\S+\s*")


def strip_mention(text: str) -> str:
    return _LEADING_MENTION.sub("", text, count=1)


def parse_bot_message(plaintext: str) -> InboundMessage | None:
    """The neutral message for a decrypted callback; ``None`` for a stream refresh (not a person's message)."""
    data = parse_json_object(plaintext, "decrypted message")
    msgtype = text_of(data.get("msgtype")) or "unknown"
    if msgtype == "stream":
        return None
    sender = data.get("from")
    userid = text_of(sender.get("userid")) if isinstance(sender, dict) else ""
    chat_type = "group" if data.get("chattype") == "group" else "single"
    chat_id = text_of(data.get("chatid")) or userid
    message_id = text_of(data.get("msgid")) or digest_id(plaintext)
    response_url = text_of(data.get("response_url"))
    text, attachments = _content(msgtype, data)
    if chat_type == "group":
        text = strip_mention(text)
    quote = _section(data, "quote")
    quoted = _content(text_of(quote.get("msgtype")), quote)[0] if quote else ""
    return InboundMessage(
        platform="wecom",
        channel=CHANNEL,
        message_id=message_id,
        sender_id=userid,
        text=text.strip(),
        chat_id=chat_id,
        chat_type=chat_type,
        msgtype=msgtype,
        attachments=attachments,
        quoted=quoted.strip(),
        reply=ReplyRoute(
            channel="wecom_response_url",
            target=chat_id,
            rate_key=f"wecom_response_url:{message_id}",
            address={"url": response_url},
        ),
        raw=data,
    )


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _media(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A download url (valid 5 minutes), and its own key where the platform gives one (long connection)."""
    item: dict[str, Any] = {"kind": kind, "url": text_of(body.get("url"))}
    for key in ("aeskey", "filename", "name"):
        if text_of(body.get(key)):
            item["aeskey" if key == "aeskey" else "name"] = text_of(body.get(key))
    return item


def _content(msgtype: str, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the attachments (with the platform's download urls) of each message type."""
    body = _section(data, msgtype)
    if msgtype == "text":
        return text_of(body.get("content")), []
    if msgtype == "voice":  # WeCom delivers voice already transcribed
        return text_of(body.get("content")), []
    if msgtype in ("image", "file", "video"):
        return "", [_media(msgtype, body)]
    if msgtype == "mixed":
        texts: list[str] = []
        attachments: list[dict[str, Any]] = []
        items = body.get("msg_item")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            kind = text_of(item.get("msgtype"))
            part = _section(item, kind)
            if kind == "text":
                texts.append(text_of(part.get("content")))
            elif kind == "image":
                attachments.append(_media("image", part))
        return "\n".join(texts), attachments
    return "", []


def _ciphertext(body: str) -> str:
    payload = text_of(parse_json_object(body).get("encrypt"))
    if not payload:
        raise bad_request("no encrypt field")
    return payload


def wecom_bot_channel(settings: Settings, inbox: Inbox) -> Channel:
    config = settings.wecom.bot
    if config.transport != "http":
        reason = f'[wecom.bot] transport = "{config.transport}"（消息经长连接接收）'
        return Channel(CHANNEL, False, [], off_reason=reason)
    if not config.enabled:
        return Channel(CHANNEL, False, [], off_reason=OFF_REASON)
    crypto = callback_crypto(settings, token=config.token, encoding_aes_key=config.encoding_aes_key, receive_id="")
    return wecom_channel(CHANNEL, PATH, crypto, inbox, ciphertext_of=_ciphertext, message_of=parse_bot_message)
