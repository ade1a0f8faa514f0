"""The parts of a WeCom callback that the app (XML) and the 智能机器人 (JSON) share: the signed query and the
URL verification that WeCom performs when the callback address is saved."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from bot.inbound.edge import note_result, query_param
from bot.inbound.wecom_crypto import WecomCallbackCrypto
from bot.metrics import CallbackResult


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
