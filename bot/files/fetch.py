"""Getting a file's bytes from the platform that holds it (PLATFORMS.md, addendum 1), one fetcher per channel.

- WeCom app: ``GET {api_base}/cgi-bin/media/get?access_token=…&media_id=…`` with the app's cached token, in
  ``Range`` pieces of at most 20 MB (WeCom answers 830002 to a whole request for a larger file).
- WeCom 智能机器人: ``GET`` the message's ``url`` (valid 5 minutes); the bytes are AES-256-CBC encrypted with
  the bot's EncodingAESKey (IV = key[:16], PKCS#7 to 32 bytes) and are decrypted as they arrive.
- Feishu (long connection): ``GET {api_base}/open-apis/im/v1/messages/{message_id}/resources/{key}?type=…``
  with the app's ``tenant_access_token``.
- DingTalk robot: the app token from ``POST {openapi_base}/v1.0/oauth2/accessToken``, then
  ``POST {openapi_base}/v1.0/robot/messageFiles/download`` with the ``downloadCode`` and ``robotCode`` gives a
  ``downloadUrl``, fetched with a plain ``GET``.

A JSON answer where bytes were expected is an error (WeCom answers errors with HTTP 200), never the file.
Bytes go straight to a :class:`storage.blobs.Spool` on disk: memory stays flat whatever the size, and the
size limit is enforced as they arrive (and from ``Content-Length`` before any are read).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.config import Settings
from bot.outbound.senders.base import Kind, Outcome
from bot.outbound.senders.feishu_reply import ACCESS_PATH as FEISHU_ACCESS_PATH
from bot.outbound.senders.feishu_reply import TOKEN_INVALID as FEISHU_TOKEN_INVALID
from bot.outbound.senders.wecom_app import WecomAppToken
from storage.blobs import Spool, Spooled, TooLarge
from storage.models import StoredFile

READ_BYTES = 64 * 1024
ERROR_BODY_BYTES = 64 * 1024
WECOM_RANGE_BYTES = 20 * 1024 * 1024
TOKEN_MARGIN = 300.0


class Verdict(enum.StrEnum):
    STORED = "stored"  # the bytes are spooled
    RETRY = "retry"  # try again later (while the reference is valid)
    GONE = "gone"  # the platform will never give it: lost
    TOO_LARGE = "too_large"  # over the limit: refused


@dataclass(frozen=True)
class Fetched:
    verdict: Verdict
    reason: str = ""
    spooled: Spooled | None = None
    name: str = ""  # from Content-Disposition, when the message carried none
    content_type: str = ""


class Failed(Exception):
    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.fetched = Fetched(verdict, reason)


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)")
_FILENAME = re.compile(r'filename\s*=\s*"?([^";]+)"?')


def disposition_name(header: str) -> str:
    """The file name in a ``Content-Disposition`` header (``filename*=UTF-8''…`` preferred)."""
    if match := _FILENAME_STAR.search(header):
        return unquote(match.group(1).strip())
    if match := _FILENAME.search(header):
        raw = match.group(1).strip()
        try:  # servers often send UTF-8 bytes that aiohttp decoded as Latin-1
            return raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return raw
    return ""


class Decryptor:
    """AES-256-CBC with the WeCom key (IV = key[:16]) and 32-byte PKCS#7, decrypted as the bytes arrive.

    The last block is held back until the end so that the padding can be checked and removed.
    """

    def __init__(self, b64key: str) -> None:
        key = base64.b64decode(b64key + "=" * (-len(b64key) % 4))
        if len(key) != 32:
            raise ValueError("the key is not 32 bytes")
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        self._held = b""

    def update(self, data: bytes) -> bytes:
        out = self._held + self._cipher.update(data)
        keep = min(len(out), 32)
        self._held = out[len(out) - keep :]
        return out[: len(out) - keep]

    def finish(self) -> bytes:
        try:
            out = self._held + self._cipher.finalize()
        except ValueError as exc:  # not a whole number of blocks
            raise Failed(Verdict.GONE, "文件解密失败（数据长度不符）") from exc
        pad = out[-1] if out else 0
        if not 1 <= pad <= 32 or out[-pad:] != bytes([pad]) * pad:
            raise Failed(Verdict.GONE, "文件解密失败（填充无效，密钥可能不符）")
        return out[:-pad]


def _json_error(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _is_json(response: aiohttp.ClientResponse) -> bool:
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().casefold()
    return kind in ("application/json", "text/json", "text/plain")


class Download:
    """One streamed download into a spool, with the limit and an optional decryption."""

    def __init__(self, spool_directory: Path | None, limit: int, decryptor: Decryptor | None = None) -> None:
        self.spool = Spool(spool_directory, limit)
        self.limit = limit
        self.decryptor = decryptor
        self.name = ""
        self.content_type = ""

    async def take(self, response: aiohttp.ClientResponse) -> None:
        length = response.content_length
        if length is not None and length > self.limit + (32 if self.decryptor else 0):
            raise TooLarge(self.limit)
        self.name = self.name or disposition_name(response.headers.get("Content-Disposition", ""))
        self.content_type = self.content_type or response.headers.get("Content-Type", "")
        async for chunk in response.content.iter_chunked(READ_BYTES):
            self.spool.write(self.decryptor.update(chunk) if self.decryptor else chunk)

    def finish(self) -> Fetched:
        if self.decryptor is not None:
            self.spool.write(self.decryptor.finish())
        spooled = self.spool.finish()
        return Fetched(Verdict.STORED, spooled=spooled, name=self.name, content_type=self.content_type)


def _status_failure(status: int, platform: str) -> Failed:
    if status >= 500 or status == 429:
        return Failed(Verdict.RETRY, f"{platform}服务器暂时不可用（HTTP {status}）")
    if status in (403, 404, 410):
        return Failed(Verdict.GONE, f"{platform}已不再提供该文件（HTTP {status}，下载地址可能已过期）")
    return Failed(Verdict.RETRY, f"{platform}拒绝了下载请求（HTTP {status}）")


def _wecom_failure(body: dict[str, Any]) -> Failed:
    code = body.get("errcode")
    message = str(body.get("errmsg", ""))[:200]
    if code in (40014, 42001):
        return Failed(Verdict.RETRY, "企业微信访问令牌已失效")
    if code == 40007:
        return Failed(Verdict.GONE, f"企业微信称文件编号无效或已过期（错误码 40007：{message}）")
    if code == -1 or code == 45009:
        return Failed(Verdict.RETRY, f"企业微信繁忙（错误码 {code}）")
    return Failed(Verdict.RETRY, f"企业微信返回错误（错误码 {code}：{message}）")


class Fetchers:
    """The per-channel fetchers of one running service (they share its HTTP session and token caches)."""

    def __init__(self, http: aiohttp.ClientSession, settings: Settings, spool_directory: Path | None) -> None:
        self.http = http
        self.settings = settings
        self.spool_directory = spool_directory
        self.wecom_token = WecomAppToken(http, settings)
        self._dingtalk_token: tuple[str, float] | None = None
        self._dingtalk_lock = asyncio.Lock()  # one token request for all concurrent fetches
        self.limit = settings.files.max_bytes
        self._by_channel: dict[str, Callable[[StoredFile, Download], Any]] = {
            "wecom_app": self._wecom_app,
            "wecom_bot": self._wecom_bot,
            "dingtalk_bot": self._dingtalk,
            "feishu_ws": self._feishu,
        }
        self._feishu_token: tuple[str, float] | None = None
        self._feishu_lock = asyncio.Lock()

    async def fetch(self, file: StoredFile) -> Fetched:
        """Fetch ``file`` into a spool; never raises for what a platform or the network does."""
        fetch = self._by_channel.get(file.channel)
        if fetch is None:
            return Fetched(Verdict.GONE, f"渠道 {file.channel} 不支持下载文件")
        decryptor = None
        if file.channel == "wecom_bot":
            key = str(file.reference.get("aeskey") or self.settings.wecom.bot.encoding_aes_key.get_secret_value())
            try:
                decryptor = Decryptor(key)
            except ValueError:  # binascii.Error is one too
                return Fetched(Verdict.GONE, "解密密钥无效（请核对 [wecom.bot] encoding_aes_key）")
        download = Download(self.spool_directory, self.limit, decryptor)
        try:
            await fetch(file, download)
            return download.finish()
        except Failed as failed:
            download.spool.discard()
            return failed.fetched
        except TooLarge:
            download.spool.discard()
            return Fetched(Verdict.TOO_LARGE, f"文件超过 {self.limit // (1024 * 1024)} MB 上限")
        except (TimeoutError, aiohttp.ClientError) as exc:
            download.spool.discard()
            return Fetched(Verdict.RETRY, f"下载时网络中断（{type(exc).__name__}）")
        except BaseException:
            download.spool.discard()
            raise

    # ---- WeCom app -------------------------------------------------------------------------------------

    async def _wecom_app(self, file: StoredFile, download: Download) -> None:
        media_id = str(file.reference.get("media_id") or "")
        if not media_id:
            raise Failed(Verdict.GONE, "消息中没有文件编号（MediaId）")
        url = self.settings.wecom.api_base.rstrip("/") + "/cgi-bin/media/get"
        start, stale = 0, None
        while True:
            token = await self.wecom_token.get(stale=stale)
            if isinstance(token, Outcome):
                verdict = Verdict.RETRY if token.kind in (Kind.RETRY, Kind.UNCERTAIN) else Verdict.GONE
                raise Failed(verdict, f"获取企业微信访问令牌失败：{token.describe()}")
            headers = {"Range": f"bytes={start}-{start + WECOM_RANGE_BYTES - 1}"}
            params = {"access_token": token, "media_id": media_id}
            async with self.http.get(url, params=params, headers=headers) as response:
                if response.status >= 400:
                    raise _status_failure(response.status, "企业微信")
                if _is_json(response):
                    body = _json_error(await response.content.read(ERROR_BODY_BYTES))
                    if body.get("errcode") in (40014, 42001) and stale != token:
                        stale = token
                        continue
                    raise _wecom_failure(body)
                total = _range_total(response.headers.get("Content-Range", ""))
                before = download.spool.size
                await download.take(response)
                if response.status != 206 or total is None:
                    return
                start += download.spool.size - before
                if start >= total or download.spool.size == before:
                    return

    # ---- WeCom 智能机器人 --------------------------------------------------------------------------------

    async def _wecom_bot(self, file: StoredFile, download: Download) -> None:
        url = str(file.reference.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise Failed(Verdict.GONE, "消息中没有有效的下载地址")
        async with self.http.get(url) as response:
            if response.status >= 400:
                raise _status_failure(response.status, "企业微信")
            if _is_json(response):
                raise _wecom_failure(_json_error(await response.content.read(ERROR_BODY_BYTES)))
            await download.take(response)

    # ---- Feishu ---------------------------------------------------------------------------------------

    async def _feishu_access_token(self, *, fresh: bool = False) -> str:
        async with self._feishu_lock:
            cached = self._feishu_token
            if cached is not None and not fresh and time.time() < cached[1]:
                return cached[0]
            config = self.settings.feishu
            body = {"app_id": config.app_id, "app_secret": config.app_secret.get_secret_value()}
            async with self.http.post(config.api_base.rstrip("/") + FEISHU_ACCESS_PATH, json=body) as response:
                answer = _json_error(await response.content.read(ERROR_BODY_BYTES))
                status = response.status
            token, expire = answer.get("tenant_access_token"), answer.get("expire", 7200)
            if status >= 500:
                raise Failed(Verdict.RETRY, f"飞书服务器暂时不可用（HTTP {status}）")
            if answer.get("code") != 0 or not isinstance(token, str):
                raise Failed(Verdict.RETRY, f"获取飞书访问令牌失败（{answer.get('code')}：{answer.get('msg', '')}）")
            lifetime = float(expire) if isinstance(expire, int | float) else 7200.0
            self._feishu_token = (token, time.time() + max(lifetime - 1800, 60.0))
            return token

    async def _feishu(self, file: StoredFile, download: Download) -> None:
        message_id = str(file.reference.get("message_id") or "")
        key = str(file.reference.get("file_key") or file.reference.get("image_key") or "")
        if not message_id or not key:
            raise Failed(Verdict.GONE, "消息中没有文件标识（file_key / image_key）")
        kind = "image" if file.reference.get("image_key") else "file"
        url = f"{self.settings.feishu.api_base.rstrip('/')}/open-apis/im/v1/messages/{message_id}/resources/{key}"
        for fresh in (False, True):
            token = await self._feishu_access_token(fresh=fresh)
            headers = {"Authorization": f"Bearer {token}"}
            async with self.http.get(url, params={"type": kind}, headers=headers) as response:
                if _is_json(response):
                    body = _json_error(await response.content.read(ERROR_BODY_BYTES))
                    if body.get("code") in FEISHU_TOKEN_INVALID and not fresh:
                        continue
                    if response.status >= 500 or body.get("code") == 99991400:
                        raise Failed(Verdict.RETRY, f"飞书暂时无法提供文件（{body.get('code')}）")
                    raise Failed(
                        Verdict.GONE, f"飞书拒绝提供该文件（错误码 {body.get('code')}：{body.get('msg', '')}）"
                    )
                if response.status >= 400:
                    raise _status_failure(response.status, "飞书")
                await download.take(response)
                return
        raise Failed(Verdict.RETRY, "飞书访问令牌已失效")

    # ---- DingTalk --------------------------------------------------------------------------------------

    async def _dingtalk_access_token(self, *, fresh: bool = False) -> str:
        async with self._dingtalk_lock:
            cached = self._dingtalk_token
            if cached is not None and not fresh and time.time() < cached[1]:
                return cached[0]
            return await self._new_dingtalk_token()

    async def _new_dingtalk_token(self) -> str:
        config = self.settings.dingtalk
        url = config.openapi_base.rstrip("/") + "/v1.0/oauth2/accessToken"
        body = {"appKey": config.app_key, "appSecret": config.app_secret.get_secret_value()}
        async with self.http.post(url, json=body) as response:
            answer = _json_error(await response.content.read(ERROR_BODY_BYTES))
            status = response.status
        token = answer.get("accessToken")
        if status >= 500:
            raise Failed(Verdict.RETRY, f"钉钉服务器暂时不可用（HTTP {status}）")
        if status != 200 or not isinstance(token, str):
            code = answer.get("code", status)
            raise Failed(Verdict.RETRY, f"获取钉钉访问令牌失败（{code}：{str(answer.get('message', ''))[:200]}）")
        expire = answer.get("expireIn", 7200)
        lifetime = float(expire) if isinstance(expire, int | float) else 7200.0
        self._dingtalk_token = (token, time.time() + max(lifetime - TOKEN_MARGIN, 60.0))
        return token

    async def _dingtalk(self, file: StoredFile, download: Download) -> None:
        code = str(file.reference.get("download_code") or "")
        if not code:
            raise Failed(Verdict.GONE, "消息中没有下载码（downloadCode）")
        robot = str(file.reference.get("robot_code") or self.settings.dingtalk.app_key)
        url = self.settings.dingtalk.openapi_base.rstrip("/") + "/v1.0/robot/messageFiles/download"
        fresh = False
        for _ in range(2):
            token = await self._dingtalk_access_token(fresh=fresh)
            headers = {"x-acs-dingtalk-access-token": token}
            async with self.http.post(url, json={"downloadCode": code, "robotCode": robot}, headers=headers) as answer:
                body = _json_error(await answer.content.read(ERROR_BODY_BYTES))
                status = answer.status
            if status == 401 and not fresh:
                fresh = True
                continue
            break
        link = body.get("downloadUrl")
        if status == 200 and isinstance(link, str) and link.startswith(("http://", "https://")):
            async with self.http.get(link) as response:
                if response.status >= 400:
                    raise _status_failure(response.status, "钉钉")
                await download.take(response)
            return
        if status >= 500 or status == 429:
            raise Failed(Verdict.RETRY, f"钉钉服务器暂时不可用（HTTP {status}）")
        message = f"{body.get('code', status)}：{str(body.get('message', ''))[:200]}"
        if status in (400, 403, 404):
            raise Failed(Verdict.GONE, f"钉钉拒绝提供该文件（{message}），下载码可能已过期")
        raise Failed(Verdict.RETRY, f"钉钉未给出下载地址（{message}）")


def _range_total(header: str) -> int | None:
    """The total in ``Content-Range: bytes 0-99/1234``."""
    _, _, total = header.rpartition("/")
    return int(total) if total.strip().isdigit() else None
