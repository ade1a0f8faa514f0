"""What every inbound endpoint shares: reading a bounded body, refusing bad input, storing, answering.

The edge answers a platform within its deadline by doing only what must happen before the answer: verify,
decrypt, parse, and insert the message into the inbox in a short transaction (shared with the callbacks that
arrive at the same moment: a group commit). Everything else is the inbox worker's. A refused request stores
nothing; a platform's retry of a stored message is a no-op.
Log lines name the channel and the message id, never a token, a key or what a person wrote. Every request
is counted once in ``duban_callbacks_total`` with its :class:`~bot.metrics.CallbackResult`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.appkeys import CONTEXT
from bot.inbox_signal import InboxSignal
from bot.logs import trace_id
from bot.metrics import CallbackResult, record_callback
from bot.request_trace import request_id
from storage.db import Database
from storage.inbox import InboundMessage, store_now

log = logging.getLogger(__name__)

# Declared body types that no platform callback uses: answered 415 rather than guessed at.
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})

# Column widths of the inbox (``storage.models.InboxMessage``): longer identifiers are refused, not cut,
# because a cut identifier would name someone else; a long display name is shortened.
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 128
MAX_MSGTYPE_CHARS = 32
# Messages stored in one transaction at most (17 columns each stays far below SQLite's bound variables).
MAX_BATCH = 200


# The result a refusal is counted under, unless it names its own.
_RESULT_OF_STATUS = {
    400: CallbackResult.BAD_REQUEST,
    403: CallbackResult.REFUSED_SIGNATURE,
    413: CallbackResult.TOO_LARGE,
    415: CallbackResult.UNSUPPORTED_TYPE,
    503: CallbackResult.UNAVAILABLE,
}

# What a request that was answered 200 amounted to, noted by the endpoint for the guard to count.
CALLBACK_RESULT = web.RequestKey("duban_callback_result", CallbackResult)


class Refused(Exception):
    """A request the edge does not accept: answered with ``status`` and a short reason; nothing is stored."""

    def __init__(self, status: int, reason: str, result: CallbackResult | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.result = result or _RESULT_OF_STATUS.get(status, CallbackResult.BAD_REQUEST)


def forbidden(reason: str) -> Refused:
    return Refused(403, reason)


def stale(reason: str) -> Refused:
    """A signed request whose timestamp is outside the window (or no number): 403, counted apart."""
    return Refused(403, reason, CallbackResult.REFUSED_STALE)


def bad_request(reason: str) -> Refused:
    return Refused(400, reason)


def note_result(request: web.Request, result: CallbackResult) -> None:
    """Say what an accepted request amounted to (stored, duplicate, verified…), for the callback metrics."""
    request[CALLBACK_RESULT] = result


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(channel: str, handler: Handler) -> Handler:
    """Turn refusals into their status and any unforeseen failure into a 400, so the edge never answers 500; log
    lines written meanwhile carry the request's id (:mod:`bot.request_trace`).

    413 (the body limit) and the other ``web.HTTPException`` answers pass through unchanged. Each request is
    counted once, with its result, in ``duban_callbacks_total``.
    """

    async def guard(request: web.Request) -> web.StreamResponse:
        token = trace_id.set(request_id(request))
        try:
            return await _answer(request)
        finally:
            trace_id.reset(token)

    async def _answer(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except Refused as refusal:
            record_callback(channel, refusal.result)
            log.warning(
                "%s %s refused %d: %s (from %s)",
                channel,
                request.method,
                refusal.status,
                refusal.reason,
                request.remote,
            )
            return web.Response(status=refusal.status, text=refusal.reason)
        except web.HTTPException as answer:
            record_callback(channel, _RESULT_OF_STATUS.get(answer.status, CallbackResult.BAD_REQUEST))
            log.warning("%s %s refused %d (from %s)", channel, request.method, answer.status, request.remote)
            raise
        except Exception:
            record_callback(channel, CallbackResult.ERROR)
            log.exception("%s %s: unexpected failure while reading the request", channel, request.method)
            return web.Response(status=400, text="bad request")
        record_callback(channel, request.get(CALLBACK_RESULT, CallbackResult.OK))
        return response

    return guard


async def read_body(request: web.Request) -> bytes:
    """The whole body, within ``[server] max_body_bytes`` (413 beyond it), as bytes: decoding is ours."""
    if request.content_type in FORM_TYPES:
        raise Refused(415, f"unsupported content type {request.content_type}")
    limit = request.app[CONTEXT].settings.server.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    return await request.read()


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("body is not UTF-8") from None


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):  # 1e999: valid syntax, but no database column can hold it
        raise ValueError("number out of range")
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # NaN, Infinity: Python's extension, not the standard's


def parse_json_object(text: str, what: str = "body") -> dict[str, Any]:
    """A JSON object of finite numbers (what every platform sends, and what the inbox's JSON column stores)."""
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise bad_request(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise bad_request(f"{what} is not a JSON object")
    return value


def query_param(request: web.Request, name: str) -> str:
    """A required signing parameter from the query string; its absence is an unsigned request (403)."""
    value = request.query.get(name, "")
    if not value:
        raise forbidden(f"missing {name}")
    return value


def text_of(value: Any) -> str:
    """A field that should hold text: numbers become text; anything else (a nested object) counts as absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def digest_id(payload: str) -> str:
    """A stable message id for a payload that carries none (a retry repeats the same plaintext)."""
    return "sha256:" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:48]


def clean_text(value: str) -> str:
    """Text made storable on every backend: PostgreSQL refuses NUL in text, and lone surrogates
    (``"\\ud800"`` is valid JSON) cannot be encoded as UTF-8."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _storable(tree: dict[str, Any] | list[Any]) -> bool:
    """Whether every text in ``tree`` is storable already: one pass of the C JSON encoder (which writes NUL as
    ``\\u0000`` and lets a lone surrogate through, where encoding it as UTF-8 fails) rather than a walk in
    Python over every key and value. Text that merely shows ``\\u0000`` is taken the slow way, harmlessly."""
    try:
        text = json.dumps(tree, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return False
    if "\\u0000" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean(value: Any) -> Any:
    """``value`` with every text in it made storable (:func:`clean_text`); the same object when nothing needs it."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict | list) and _storable(value):
        return value
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def prepared(message: InboundMessage) -> InboundMessage:
    """The message made storable: clean text, identifiers within the columns (else 400)."""
    changes = {
        "message_id": clean_text(message.message_id),
        "sender_id": clean_text(message.sender_id),
        "sender_name": clean_text(message.sender_name)[:MAX_NAME_CHARS],
        "chat_id": clean_text(message.chat_id),
        "msgtype": clean_text(message.msgtype)[:MAX_MSGTYPE_CHARS] or "unknown",
        "text": clean_text(message.text),
        "quoted": clean_text(message.quoted),
        "attachments": clean(message.attachments),
        "raw": clean(message.raw),
    }
    if len(changes["message_id"]) > MAX_ID_CHARS:
        changes["message_id"] = digest_id(changes["message_id"])
    for name in ("sender_id", "chat_id"):
        if len(changes[name]) > MAX_ID_CHARS:
            raise bad_request(f"{name} longer than {MAX_ID_CHARS} characters")
    if any(getattr(message, name) is not value for name, value in changes.items()):
        message = replace(message, **changes)
    return message


class Unavailable(Exception):
    """The inbox could not take a message (the database is unreachable or refused it)."""


class Inbox:
    """Stores what the endpoints accept and wakes the inbox worker of this process.

    Messages that arrive while a write is under way are stored together in the next transaction (a group
    commit): one ``INSERT … ON CONFLICT DO NOTHING`` for many callbacks, so that a burst costs a few
    transactions rather than one each. A request is answered only once its own row is committed.
    """

    def __init__(self, signal: InboxSignal) -> None:
        self.signal = signal
        self._queue: list[tuple[InboundMessage, asyncio.Future[int | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, db: Database, message: InboundMessage) -> int | None:
        """Store ``message``; its inbox id, or ``None`` when it is a retry of a stored message.

        A database that cannot take the row answers 503, so that the platform retries later.
        """
        message = prepared(message)
        stored: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append((message, stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(db), name="duban:inbox-writer")
        try:
            with self.signal.storing():
                row_id = await stored
        except Unavailable as exc:
            log.error("%s %s: could not store (%s); answering 503", message.channel, message.message_id, exc)
            raise Refused(503, "temporarily unavailable") from None
        # Per-callback success lines are debug: at a thousand callbacks a second writing them was a fifth of the
        # edge's work, and ``duban_callbacks_total`` and the inbox row itself record each callback.
        if row_id is None:
            log.debug("%s %s: a retry of a stored message; nothing to do", message.channel, message.message_id)
            return None
        log.debug("%s %s: stored as inbox %d (%s)", message.channel, message.message_id, row_id, message.msgtype)
        self.signal.note_stored()
        return row_id

    async def accept(self, request: web.Request, message: InboundMessage) -> int | None:
        """:meth:`store` for an endpoint: the result (stored, or a duplicate) is noted for the metrics."""
        row_id = await self.store(request.app[CONTEXT].db, message)
        note_result(request, CallbackResult.STORED if row_id is not None else CallbackResult.DUPLICATE)
        return row_id

    async def _write(self, db: Database) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                results = await self._insert(db, [message for message, _ in batch])
            except Exception as exc:
                if len(batch) > 1:  # one bad message must not refuse its neighbours: store them one by one
                    for entry in batch:
                        await self._write_alone(db, *entry)
                    continue
                results = [_unavailable(exc)]
            for (_, stored), result in zip(batch, results, strict=True):
                _settle(stored, result)

    async def _write_alone(self, db: Database, message: InboundMessage, stored: asyncio.Future[int | None]) -> None:
        try:
            [result] = await self._insert(db, [message])
        except Exception as exc:
            result = _unavailable(exc)
        _settle(stored, result)

    @staticmethod
    async def _insert(db: Database, messages: list[InboundMessage]) -> list[int | Exception | None]:
        return list(await store_now(db, messages))


def _unavailable(exc: Exception) -> Unavailable:
    """A database that cannot take the row (the platform will retry); anything else is a fault of ours, logged
    with its traceback, and still answered 503 so that the message comes again rather than being lost."""
    if not isinstance(exc, SQLAlchemyError | OSError):
        log.error("inbox writer: unexpected %s", type(exc).__name__, exc_info=exc)
    return Unavailable(type(exc).__name__)


def _settle(stored: asyncio.Future[int | None], result: int | Exception | None) -> None:
    if stored.done():  # the request went away meanwhile; its row (if any) stays stored
        return
    if isinstance(result, Exception):
        stored.set_exception(result)
    else:
        stored.set_result(result)
