"""Shared by the inbound tests: the official WeCom vectors, callback builders and a look into the inbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from collections.abc import Sequence
from typing import Any

import xmltodict
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.app import Channel, create_app
from bot.config import Settings
from bot.inbound import inbound_channels
from bot.inbox_signal import InboxSignal
from storage.db import Database
from storage.models import InboxMessage

# Vector A: Tencent's WXBizMsgCrypt Python sample (PLATFORMS.md).
A_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
A_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
A_CORP_ID = "ww1436e0e65a779aee"
A_VERIFY = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
}
A_ECHO = "1288432023552776189"
A_MESSAGE_QUERY = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
}
A_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kk"
    "YcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4"
    "Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f4"
    "9HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)

# Vector B: the legacy sample of WeCom's crypto documentation.
B_TOKEN = "QDG6eK"
B_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
B_CORP_ID = "wx5823bf96d3bd56c7"
B_VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
B_ECHO = "1616140317555161061"

# Our own 智能机器人 credentials (any 43-character key will do).
BOT_TOKEN = "botTokenForTests"
BOT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

DINGTALK_SECRET = "appSecretTest"


def tamper(signature: str) -> str:
    """The signature with one character changed."""
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def app_xml(encrypt: str, corp_id: str = A_CORP_ID, agent_id: str = "1000002") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<AgentID><![CDATA[{agent_id}]]></AgentID></xml>"
    )


def seal(
    token: str, aes_key: str, receive_id: str, plaintext: str, *, timestamp: str, nonce: str = "n1"
) -> dict[str, str]:
    """Encrypt and sign ``plaintext`` exactly as WeCom does: ``{"encrypt", "msg_signature", "timestamp", "nonce"}``."""
    sealed = xmltodict.parse(WeChatCrypto(token, aes_key, receive_id).encrypt_message(plaintext, nonce, timestamp))[
        "xml"
    ]
    return {
        "encrypt": sealed["Encrypt"],
        "msg_signature": sealed["MsgSignature"],
        "timestamp": timestamp,
        "nonce": nonce,
    }


def sign(token: str, timestamp: str, nonce: str, payload: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, payload])).encode()).hexdigest()  # noqa: S324


def raw_encrypt(aes_key: str, plaintext: bytes, *, pad: bool = True) -> str:
    """AES-CBC of ``plaintext`` as given (no framing): for payloads no honest sender would produce."""
    key = base64.b64decode(aes_key + "=")
    if pad:
        count = 32 - len(plaintext) % 32
        plaintext += bytes([count]) * count
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


def framed(message: bytes, receive_id: bytes) -> bytes:
    """WeCom's plaintext framing: 16 random bytes, the length, the message, the receiveid."""
    return b"r" * 16 + struct.pack(">I", len(message)) + message + receive_id


def bot_query(sealed: dict[str, str]) -> dict[str, str]:
    return {k: sealed[k] for k in ("msg_signature", "timestamp", "nonce")}


def bot_message(
    text: str = "@督办助手 10月工作进展：已完成。",
    *,
    msgid: str = "msg-1",
    chattype: str = "group",
    userid: str = "zhangsan",
    chatid: str = "wrchat01",
    msgtype: str = "text",
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msgid": msgid,
        "aibotid": "aib01",
        "chatid": chatid,
        "chattype": chattype,
        "from": {"userid": userid},
        "response_url": f"https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code={msgid}",
        "msgtype": msgtype,
    }
    if msgtype == "text":
        message["text"] = {"content": text}
    message.update(extra)
    return message


def dingtalk_headers(timestamp: str, secret: str = DINGTALK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": timestamp, "sign": base64.b64encode(digest).decode(), "Content-Type": "application/json"}


def dingtalk_message(text: str = " 10月工作进展：已完成。", *, msg_id: str = "msgDT1", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msgId": msg_id,
        "msgtype": "text",
        "text": {"content": text},
        "createAt": 1700000000000,
        "conversationType": "2",
        "conversationId": "cidGroup01==",
        "conversationTitle": "强省会工作机制群",
        "senderStaffId": "staff001",
        "senderNick": "李四",
        "chatbotUserId": "$:LWCP_v1:$bot",
        "isInAtList": True,
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
        "sessionWebhookExpiredTime": 1700005400000,
    }
    message.update(extra)
    return message


def settings_for(url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": url},
        "wecom": {
            "timestamp_window": 0,
            "app": {"corp_id": A_CORP_ID, "token": A_TOKEN, "encoding_aes_key": A_AES_KEY},
            "bot": {"token": BOT_TOKEN, "encoding_aes_key": BOT_AES_KEY},
        },
        "dingtalk": {"app_key": "dingkey", "app_secret": DINGTALK_SECRET},
        "sandbox": {"enabled": True},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return Settings.model_validate(values)


def inbound_app(settings: Settings, db: Database, signal: InboxSignal | None = None) -> web.Application:
    channels: Sequence[Channel] = inbound_channels(settings, signal or InboxSignal())
    return create_app(settings, db=db, channels=channels)


async def inbox(db: Database) -> list[InboxMessage]:
    async with db.sessions() as session:
        return list((await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all())


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
