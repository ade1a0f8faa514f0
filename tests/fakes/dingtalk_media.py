"""Fake DingTalk file sending (PLATFORMS.md §2): the ``oapi`` media upload and the app robot's OpenAPI messages.

- ``POST /media/upload?access_token=…``, multipart ``type=file`` and ``media``: the token must be one the fake's
  ``/v1.0/oauth2/accessToken`` issued and not expired (40014 otherwise, as the ``oapi`` host answers an invalid
  access_token); the file at most 20 MB and not empty (40006 invalid file size), of the types PLATFORMS.md lists
  (doc/docx/xls/xlsx/ppt/pptx/zip/pdf/rar; 40005 invalid file type); ``type`` must be ``file`` (40004 invalid media
  type). Answers ``{"errcode":0,"errmsg":"ok","media_id":"@lA…","type":"file","created_at":ms}``; ids never expire.
- ``POST /v1.0/robot/oToMessages/batchSend`` (``userIds``, 1 to 20) and ``POST /v1.0/robot/groupMessages/send``
  (``openConversationId``, a group the robot is in), header ``x-acs-dingtalk-access-token``, ``robotCode`` the app
  key, ``msgKey`` ``sampleText`` / ``sampleMarkdown`` / ``sampleFile`` and ``msgParam`` a JSON *string*; a
  ``sampleFile`` must name an uploaded ``mediaId``. Errors are the OpenAPI's: HTTP 401 ``InvalidAuthentication``,
  HTTP 400 ``invalidParameter.*``; success HTTP 200 ``{"processQueryKey": …}``.

PLATFORMS.md states no rate limit for these calls, so this fake enforces none; faults are scripted per target
(``media_upload``, a user id, a conversation id) like the other fakes'.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.behaviour import answer, read_json
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.files import FakeFiles
from tests.fakes.wecom_media import Upload

MAX_SIZE = 20 * 1024 * 1024
FILE_TYPES = ("doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar")
MSG_KEYS = ("sampleText", "sampleMarkdown", "sampleFile")
MAX_USERS = 20


@dataclass(frozen=True)
class RobotMessage:
    """One message the app robot delivered: to a user (1:1) or a conversation (group)."""

    to: str
    group: bool
    msg_key: str
    param: dict[str, Any]


async def read_upload(request: web.Request) -> tuple[str, tuple[str, bytes] | None]:
    """The ``type`` field and the ``media`` part (filename, bytes) of a multipart upload."""
    kind, media = "", None
    if not request.content_type.startswith("multipart/"):
        return kind, media
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "type":
            kind = (await part.text()).strip()
        elif part.name == "media":
            media = (part.filename or "", bytes(await part.read()))
    return kind, media


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "requestid": secrets.token_hex(8)}, status=status)


class DingtalkMedia:
    """The upload and robot-message endpoints (sharing the DingTalk fake's clock, log and faults, and the access
    tokens the files fake issues)."""

    def __init__(self, dingtalk: FakeDingtalk, files: FakeFiles) -> None:
        self.dingtalk = dingtalk
        self.files = files
        self.uploads: dict[str, Upload] = {}
        self.messages: list[RobotMessage] = []
        self.groups: set[str] = set()  # conversations the robot is in

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/media/upload", self.upload),
            web.post("/v1.0/robot/oToMessages/batchSend", self.one_to_one),
            web.post("/v1.0/robot/groupMessages/send", self.group),
        ]

    def _token_valid(self, token: str) -> bool:
        expiry = self.files.dingtalk_tokens.get(token)
        return expiry is not None and self.dingtalk.clock() < expiry

    # ---- upload ---------------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        kind, media = await read_upload(request)

        def handle() -> web.Response:
            if not self._token_valid(token):
                self.dingtalk.record("media_upload", "media_upload", {}, 40014)
                return answer(40014, "不合法的access_token")
            if kind != "file":
                self.dingtalk.record("media_upload", "media_upload", {"type": kind}, 40004)
                return answer(40004, "无效的媒体文件类型")
            if media is None or not 0 < len(media[1]) <= MAX_SIZE:
                self.dingtalk.record("media_upload", "media_upload", {"type": kind}, 40006)
                return answer(40006, "无效的文件大小")
            name, content = media
            if PurePath(name).suffix.removeprefix(".").lower() not in FILE_TYPES:
                self.dingtalk.record("media_upload", "media_upload", {"name": name}, 40005)
                return answer(40005, "不合法的文件类型")
            upload = Upload("@lA" + secrets.token_urlsafe(24), "app", name, content, self.dingtalk.clock())
            self.uploads[upload.media_id] = upload
            record = {"type": kind, "filename": name, "size": len(content), "media_id": upload.media_id}
            self.dingtalk.record("media_upload", "media_upload", record, 0)
            created = int(upload.at * 1000)
            return answer(0, "ok", media_id=upload.media_id, type="file", created_at=created)

        return await self.dingtalk.behave("media_upload", "media_upload", {}, handle, request=request)

    # ---- robot messages -------------------------------------------------------------------------------

    def _refusal(self, request: web.Request, payload: dict[str, Any]) -> web.Response | dict[str, Any]:
        """The OpenAPI's error answer, or the parsed ``msgParam``."""
        if not self._token_valid(request.headers.get("x-acs-dingtalk-access-token", "")):
            return _error(401, "InvalidAuthentication", "不合法的access_token")
        if payload.get("robotCode") != self.files.dingtalk_app[0]:
            return _error(400, "invalidParameter.robotCode", "robotCode不合法")
        if payload.get("msgKey") not in MSG_KEYS:
            return _error(400, "invalidParameter.msgKey", "msgKey不合法")
        raw = payload.get("msgParam")
        try:
            param = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            param = None
        if not isinstance(param, dict):
            return _error(400, "invalidParameter.msgParam", "msgParam应为JSON字符串")
        if payload["msgKey"] == "sampleFile" and param.get("mediaId") not in self.uploads:
            return _error(400, "invalidParameter.mediaId", "mediaId不合法")
        return param

    async def one_to_one(self, request: web.Request) -> web.StreamResponse:
        payload = await read_json(request) or {}
        users = payload.get("userIds")
        target = str(users[0]) if isinstance(users, list) and users else ""

        def handle() -> web.Response:
            checked = self._refusal(request, payload)
            if isinstance(checked, web.Response):
                self.dingtalk.record("oto", target, payload, None, status=checked.status)
                return checked
            if not isinstance(users, list) or not 1 <= len(users) <= MAX_USERS:
                self.dingtalk.record("oto", target, payload, None, status=400)
                return _error(400, "invalidParameter.userIds", "userIds应为1到20个用户")
            for user in users:
                self.messages.append(RobotMessage(str(user), False, str(payload["msgKey"]), checked))
            self.dingtalk.record("oto", target, payload, 0, delivered=True)
            return web.json_response(
                {"processQueryKey": secrets.token_hex(12), "invalidStaffIdList": [], "flowControlledStaffIdList": []}
            )

        return await self.dingtalk.behave("oto", target, payload, handle, request=request)

    async def group(self, request: web.Request) -> web.StreamResponse:
        payload = await read_json(request) or {}
        conversation = str(payload.get("openConversationId", ""))

        def handle() -> web.Response:
            checked = self._refusal(request, payload)
            if isinstance(checked, web.Response):
                self.dingtalk.record("group", conversation, payload, None, status=checked.status)
                return checked
            if conversation not in self.groups:
                self.dingtalk.record("group", conversation, payload, None, status=400)
                return _error(400, "invalidParameter.openConversationId", "机器人不在该群或群不存在")
            self.messages.append(RobotMessage(conversation, True, str(payload["msgKey"]), checked))
            self.dingtalk.record("group", conversation, payload, 0, delivered=True)
            return web.json_response({"processQueryKey": secrets.token_hex(12)})

        return await self.dingtalk.behave("group", conversation, payload, handle, request=request)

    def files_sent(self) -> list[tuple[RobotMessage, Upload]]:
        """Each file message delivered, with the upload it named."""
        return [(m, self.uploads[m.param["mediaId"]]) for m in self.messages if m.msg_key == "sampleFile"]
