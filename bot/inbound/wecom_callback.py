"""The parts of a WeCom callback that the app (XML) and the 智能机器人 (JSON) share: the signed query, the
URL verification that WeCom performs when the callback address is saved, and the verify-decrypt-accept steps
of a message callback. Only how the body holds the ciphertext and what the plaintext means differ."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from bot.app import Channel
from bot.config import Settings
from bot.inbound.edge import Inbox, decode_utf8, guarded, note_result, query_param, read_body
from bot.inbound.wecom_crypto import WecomCallbackCrypto
from bot.metrics import CallbackResult
from storage.inbox import InboundMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedQuery:
    signature: str
    timestamp: str
    nonce: str


def signed_query(request: web.Request) -> SignedQuery:
    """``msg_signature``, ``timestamp`` and ``nonce``; a request without them is unsigned (403)."""
    return SignedQuery(
        signature=query_param(request, "msg_signature"),
        timestamp=query_param(request, "timestamp"),
        nonce=query_param(request, "nonce"),
    )


def restore_base64(value: str) -> str:
    """A ``+`` sent unescaped in a query string arrives as a space; base64 never holds a space."""
    return value.replace(" ", "+")


def open_payload(crypto: WecomCallbackCrypto, query: SignedQuery, payload: str) -> str:
    """Verify (constant-time signature, freshness) and decrypt ``payload``."""
    return crypto.verified_plaintext(
        signature=query.signature,
        timestamp=query.timestamp,
        nonce=query.nonce,
        payload=payload,
        now=time.time(),
    )


async def answer_url_verification(request: web.Request, crypto: WecomCallbackCrypto) -> web.Response:
    """``GET ?msg_signature&timestamp&nonce&echostr``: answer the decrypted echostr, plain, nothing else."""
    query = signed_query(request)
    echostr = restore_base64(query_param(request, "echostr"))
    plaintext = open_payload(crypto, query, echostr)
    note_result(request, CallbackResult.VERIFIED)
    return web.Response(text=plaintext, content_type="text/plain")


def callback_crypto(
    settings: Settings, *, token: SecretStr, encoding_aes_key: SecretStr, receive_id: str
) -> WecomCallbackCrypto:
    """The crypto of one endpoint, with the ``[wecom] timestamp_window`` every WeCom endpoint shares."""
    return WecomCallbackCrypto(
        token=token.get_secret_value(),
        encoding_aes_key=encoding_aes_key.get_secret_value(),
        receive_id=receive_id,
        window=settings.wecom.timestamp_window,
    )


def wecom_channel(
    name: str,
    path: str,
    crypto: WecomCallbackCrypto,
    inbox: Inbox,
    *,
    ciphertext_of: Callable[[str], str],
    message_of: Callable[[str], InboundMessage | None],
) -> Channel:
    """``GET path`` (URL verification) and ``POST path`` (messages) of one WeCom callback.

    ``ciphertext_of`` takes the encrypted payload out of the body text (a 400 when it is missing);
    ``message_of`` reads the verified plaintext, ``None`` for a callback that is no person's message, which is
    acknowledged and not stored. The signed query is checked before the body is read.
    """

    async def verify_url(request: web.Request) -> web.Response:
        return await answer_url_verification(request, crypto)

    async def receive(request: web.Request) -> web.Response:
        query = signed_query(request)
        payload = ciphertext_of(decode_utf8(await read_body(request)))
        message = message_of(open_payload(crypto, query, payload))
        if message is None:
            log.debug("%s: stream refresh acknowledged", name)
            note_result(request, CallbackResult.IGNORED)
        else:
            await inbox.accept(request, message)
        return web.Response(status=200)

    return Channel(
        name,
        True,
        [
            web.get(path, guarded(name, verify_url), allow_head=False),
            web.post(path, guarded(name, receive)),
        ],
    )
