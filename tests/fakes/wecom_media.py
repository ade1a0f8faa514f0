"""Fake WeCom media uploads (PLATFORMS.md §2, "Sending a file back"): the app's ``media/upload`` and a group
robot's ``webhook/upload_media``, both multipart with the file in field ``media``, more than 5 B and at most
20 MB, the ``media_id`` valid for 3 days; a robot's ``media_id`` is usable only by the robot that uploaded it.

PLATFORMS.md names 40007 (invalid media_id); the codes for a missing field, a wrong size and an unknown type
are from WeCom's published global errcode list (44001 empty media data, 40006 invalid file size, 40004 invalid
media type).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from tests.fakes.behaviour import Clock, answer

MIN_SIZE = 6  # "more than 5 B"
MAX_SIZE = 20 * 1024 * 1024
LIFETIME = 3 * 24 * 3600.0
TYPES = ("file", "voice", "image", "video")


@dataclass(frozen=True)
class Upload:
    """One stored upload: who may use it (``app`` or a robot key), the name shown and the exact bytes."""

    media_id: str
    owner: str
    filename: str
    content: bytes
    at: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


async def read_media(request: web.Request) -> tuple[str, bytes] | None:
    """The ``media`` part's filename and bytes, or ``None`` when the body has no such part."""
    if not request.content_type.startswith("multipart/"):
        return None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "media":
            # aiohttp's client percent-encodes a non-ASCII filename; the name shown is the decoded one
            return unquote(part.filename or ""), bytes(await part.read())
    return None


class MediaStore:
    """Uploads by ``media_id``, kept for the tests to compare with what was meant to be sent."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.uploads: dict[str, Upload] = {}

    async def upload(self, request: web.Request, owner: str) -> tuple[dict[str, Any], web.Response]:
        """Store the request's file for ``owner``; the record to log and the answer."""
        return self.accept(request.query.get("type", ""), await read_media(request), owner)

    def accept(self, kind: str, media: tuple[str, bytes] | None, owner: str) -> tuple[dict[str, Any], web.Response]:
        """Store an upload of ``kind`` already read from its request; the record to log and the answer."""
        if kind not in TYPES:
            return {"type": kind}, answer(40004, "invalid media type")
        if media is None:
            return {"type": kind}, answer(44001, "empty media data")
        filename, content = media
        record = {"type": kind, "filename": filename, "size": len(content)}
        if not MIN_SIZE <= len(content) <= MAX_SIZE:
            return record, answer(40006, "invalid file size")
        upload = Upload("3" + secrets.token_urlsafe(24), owner, filename, content, self.clock())
        self.uploads[upload.media_id] = upload
        record["media_id"] = upload.media_id
        reply = answer(0, "", type=kind, media_id=upload.media_id, created_at=str(int(upload.at)))
        return record, reply

    def usable(self, payload: dict[str, Any], owner: str) -> bool:
        """Whether a ``file`` message's ``media_id`` was uploaded by ``owner`` and is still valid."""
        part = payload.get("file")
        media_id = part.get("media_id") if isinstance(part, dict) else None
        upload = self.uploads.get(media_id) if isinstance(media_id, str) else None
        return upload is not None and upload.owner == owner and self.clock() - upload.at < LIFETIME

    def sent(self, payload: dict[str, Any]) -> Upload | None:
        part = payload.get("file")
        return self.uploads.get(str(part.get("media_id"))) if isinstance(part, dict) else None
