"""What every sender shares: the outcome of a request, the HTTP calls, and the sender interface.

A request ends in one of four ways (:class:`Kind`):

- ``ok``: the platform took it;
- ``retry``: it certainly did not arrive, or the platform asked us to come back later (network failure
  before or while connecting, HTTP 5xx, rate-limit errcodes) — back off and try again;
- ``permanent``: it will not work until a person changes something (bad key, signature, keyword, IP) — stop,
  and tell the office what to fix;
- ``uncertain``: the request was written but no answer came (read timeout, or the connection reset or closed
  before the answer) — it may have arrived, so it is never repeated on its own; the office decides.
"""

from __future__ import annotations

import asyncio
import enum
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from bot.outbound.render import Payload, wire_json
from storage.outbox_claim import Claim

DETAIL_MAX = 300


class Kind(enum.StrEnum):
    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Outcome:
    """A classified answer. ``cause`` and ``fix`` are for people (Chinese); ``detail`` is the platform's word."""

    kind: Kind
    errcode: str | None = None
    cause: str = ""
    fix: str = ""
    detail: str = ""
    wait: float | None = None  # seconds the platform wants us to stay away (retry)
    alert: bool = True  # tell the office about a permanent failure (not for reply routes that simply expired)
    refresh_token: bool = False  # the access token is stale: fetch a new one and try once more at once
    # Sent as text in place of a file the platform refused for good (a permission, a wrong robot key): that
    # refusal, which the office is told of (bot.outbound.alerts.alert_file_refused).
    file_refused: Outcome | None = None

    @classmethod
    def ok(cls) -> Outcome:
        return cls(Kind.OK)

    @classmethod
    def retry(cls, cause: str, *, errcode: object = None, detail: str = "", wait: float | None = None) -> Outcome:
        return cls(Kind.RETRY, _code(errcode), cause, "", detail[:DETAIL_MAX], wait)

    @classmethod
    def permanent(
        cls, cause: str, fix: str, *, errcode: object = None, detail: str = "", alert: bool = True
    ) -> Outcome:
        return cls(Kind.PERMANENT, _code(errcode), cause, fix, detail[:DETAIL_MAX], alert=alert)

    @classmethod
    def uncertain(cls, cause: str, *, detail: str = "") -> Outcome:
        return cls(Kind.UNCERTAIN, None, cause, "", detail[:DETAIL_MAX])

    def describe(self) -> str:
        """One line for ``last_error``: the cause, the errcode and the platform's own words."""
        code = f"（错误码 {self.errcode}）" if self.errcode else ""
        detail = f"：{self.detail}" if self.detail else ""
        return f"{self.cause}{code}{detail}"


def _code(errcode: object) -> str | None:
    return None if errcode is None else str(errcode)


class Undeliverable(Exception):
    """Raised before any request when a row cannot be sent at all (group gone, route expired, …)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.cause)
        self.outcome = outcome


@dataclass(frozen=True)
class Answer:
    """What came back: an HTTP status and JSON body, or the exception that stood in for them."""

    status: int | None = None
    body: dict[str, Any] | None = None
    error: BaseException | None = None

    @property
    def errcode(self) -> int | None:
        if self.body is None:
            return None
        value = self.body.get("errcode", self.body.get("code", self.body.get("StatusCode")))
        return value if isinstance(value, int) else None

    @property
    def errmsg(self) -> str:
        if self.body is None:
            return ""
        value = self.body.get("errmsg", self.body.get("msg", self.body.get("StatusMessage", "")))
        return str(value)[:DETAIL_MAX]


def http_timeout(*, connect: float, read: float) -> aiohttp.ClientTimeout:
    """Separate connect and read deadlines: a connect timeout is safe to retry, a read timeout is not."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect, sock_read=read)


async def _answer(response: aiohttp.ClientResponse) -> Answer:
    raw = await response.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Answer(response.status, body if isinstance(body, dict) else None)


async def post_json(
    http: aiohttp.ClientSession, url: str, payload: Payload, *, headers: dict[str, str] | None = None
) -> Answer:
    try:
        async with http.post(
            url, data=wire_json(payload), headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        ) as response:
            return await _answer(response)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Answer(error=exc)


async def post_file(
    http: aiohttp.ClientSession,
    url: str,
    name: str,
    content: bytes,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    part: str = "media",
) -> Answer:
    """A multipart upload: ``fields`` first, then the file in the part named ``part`` under ``name``."""
    form = aiohttp.FormData()
    for key, value in (fields or {}).items():
        form.add_field(key, value)
    form.add_field(part, content, filename=name, content_type="application/octet-stream")
    try:
        async with http.post(url, data=form, headers=headers) as response:
            return await _answer(response)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Answer(error=exc)


async def get_json(http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> Answer:
    try:
        async with http.get(url, params=params) as response:
            return await _answer(response)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Answer(error=exc)


def _describe_error(error: BaseException) -> str:
    """The exception's kind without its message (messages can carry URLs, and URLs carry robot keys)."""
    if isinstance(error, aiohttp.ClientConnectorError) and error.os_error.strerror:
        return f"{type(error).__name__}: {error.os_error.strerror}"
    return type(error).__name__


def transport_outcome(answer: Answer, platform: str) -> Outcome | None:
    """The verdict below the platform's protocol (connection, timeout, HTTP status), or ``None`` to read on.

    Each channel's ``classify`` starts here, then reads its platform's errcodes.
    """
    error = answer.error
    if error is not None:
        detail = _describe_error(error)
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            return Outcome.retry(f"连接{platform}服务器超时", detail=detail)
        if isinstance(error, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
            return Outcome.uncertain(f"请求已发出，但{platform}服务器未在时限内答复，无法确认是否送达", detail=detail)
        if isinstance(error, aiohttp.ClientConnectorError):
            return Outcome.retry(f"与{platform}服务器的网络连接失败", detail=detail)
        if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError):
            # Connected, then cut off (reset, closed, a broken answer): the platform may have posted the message
            # before the line dropped, so repeating the request could post it twice.
            return Outcome.uncertain(
                f"请求已发出，但与{platform}服务器的连接在答复前中断，无法确认是否送达", detail=detail
            )
        return Outcome.retry(f"与{platform}服务器的网络连接失败", detail=detail)
    status = answer.status or 0
    if status >= 500 or status == 429:
        return Outcome.retry(f"{platform}服务器暂时不可用（HTTP {status}）", errcode=f"http{status}")
    if answer.body is None:
        if 200 <= status < 300:
            return Outcome.permanent(
                f"{platform}服务器的答复无法识别（HTTP {status}，不是预期的 JSON）",
                "请核对配置中的接口地址（api_base 或 webhook）是否正确。",
                errcode=f"http{status}",
            )
        return Outcome.permanent(
            f"{platform}服务器拒绝了请求（HTTP {status}）",
            "请核对配置中的接口地址（api_base 或 webhook）是否正确、是否仍然有效。",
            errcode=f"http{status}",
        )
    return None


BUSY = -1  # "system busy, try again" on DingTalk and WeCom


def remaining_outcome(
    answer: Answer, platform: str, *, fix: str, unrecognised_fix: str, field: str = "errcode", busy: bool = True
) -> Outcome:
    """The tail of every ``classify``, once the channel has read its own errcodes.

    ``busy`` (the platform's -1) is retried; an answer without ``field`` does not come from the platform
    (``unrecognised_fix`` says where to look); any other code is permanent, with ``fix`` pointing to the
    platform's errcode reference.
    """
    code, message = answer.errcode, answer.errmsg
    if busy and code == BUSY:
        return Outcome.retry(f"{platform}系统繁忙", errcode=code, detail=message)
    if code is None:
        return Outcome.permanent(f"答复中没有 {field}，不像{platform}的答复", unrecognised_fix, detail=message)
    return Outcome.permanent(f"{platform}返回错误 {code}", fix, errcode=code, detail=message)


class Sender(ABC):
    """One outbound channel: how a row becomes payloads, and how one payload is delivered."""

    channel: ClassVar[str]

    @abstractmethod
    def payloads(self, claim: Claim) -> list[Payload]:
        """Every part of the row's message, in order; raises :class:`Undeliverable`."""

    @abstractmethod
    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        """Deliver one part; raises :class:`Undeliverable` when no request can be made."""
