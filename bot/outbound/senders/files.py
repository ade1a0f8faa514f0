"""Sending a file (a document the office asked for): upload it, then send the platform's file message.

A row that carries a file (:class:`storage.outbox_claim.OutboxFile`) is one part: the file message. Its sender
reads the bytes from the blob store, uploads them unless the row already holds an upload the platform still
honours (the media id is recorded on the row at once, so a retry on any instance reuses it), then sends the
file message. Where the file cannot go — over the platform's size limit, refused by the upload, or still failing
after :data:`UPLOAD_TRIES` attempts — the same row sends its text instead: the reason, then where the office gets
the document (the console, the server, the command). So the office always gets one answer, and only one: a crash
anywhere after the claim leaves the row ``uncertain`` like any other (never sent again on its own).

An upload delivers nothing to anyone, so an upload whose answer never came is retried rather than uncertain.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.outbound.render import Payload
from bot.outbound.senders.base import Kind, Outcome, Sender
from bot.outbound.senders.context import SendContext, message_of
from storage.blobs import BlobMissing, read_blob
from storage.models import OutboxMessage, OutboxState
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim, OutboxFile

log = logging.getLogger(__name__)

FILE_PART: Payload = {"msgtype": "file"}  # the one part of a row that carries a file (its upload made at send time)
FILE_LIMIT = 20 * 1024 * 1024  # WeCom (app and robot) and DingTalk: files up to 20 MB (PLATFORMS.md §2)
UPLOAD_TRIES = 3  # upload failures that may pass before the text goes instead (the office is waiting)
VALIDITY_MARGIN = timedelta(hours=1)  # an id this close to its end is uploaded again rather than risked


@dataclass(frozen=True)
class Uploaded:
    media_id: str


def file_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.3g} MB"


async def read_content(ctx: SendContext, file: OutboxFile) -> bytes | None:
    """The file's bytes from the blob store (``None`` when the store no longer has them)."""
    chunks: list[bytes] = []
    try:
        async for chunk in read_blob(ctx.db, Path(ctx.settings.files.directory), file.sha256):
            chunks.append(chunk)
    except BlobMissing:
        return None
    return b"".join(chunks)


async def record_media(ctx: SendContext, outbox_id: int, media_id: str | None, at: datetime | None) -> None:
    """Keep (or, with ``None``, forget) the row's upload, while the row is still being sent."""
    async with ctx.db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.state == OutboxState.SENDING)
            .values(media_id=media_id, media_uploaded_at=at)
            .execution_options(synchronize_session=False)
        )


class FileSender(Sender):
    """A channel that can send files: rows with a file take :meth:`deliver_file`, the others send text.

    It comes first among a sender's bases, so that its :meth:`payloads` and :meth:`send` are the sender's; what a
    sender must check first goes in :meth:`check_ready`.
    """

    ctx: SendContext
    platform_name: str  # in the fallback's words, e.g. 企业微信
    size_limit: int = FILE_LIMIT
    media_lifetime: timedelta | None = timedelta(days=3)  # None: the platform's ids do not expire

    @abstractmethod
    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        """``message`` rendered for this channel (the fallback text)."""

    @abstractmethod
    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        """Send one text part (the channel's ordinary send)."""

    @abstractmethod
    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        """Upload ``content`` as a file named ``name``."""

    @abstractmethod
    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        """Send the file message for an uploaded ``media_id``."""

    @abstractmethod
    def media_refused(self, outcome: Outcome) -> bool:
        """The file message was refused because of its media id (expired, or not this robot's)."""

    def check_ready(self, claim: Claim) -> None:
        """Raise :class:`~bot.outbound.senders.base.Undeliverable` when this channel cannot send ``claim`` at all
        (not configured, no such group): checked before its payloads are built and before each part is sent."""

    def payloads(self, claim: Claim) -> list[Payload]:
        self.check_ready(claim)
        if claim.file is not None:
            return [FILE_PART]
        return self.text_payloads(claim, message_of(claim))

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        self.check_ready(claim)
        if claim.file is not None:
            return await self.deliver_file(claim, claim.file)
        return await self.send_text(claim, payload)

    def _usable(self, file: OutboxFile, now: datetime) -> str | None:
        if not file.media_id or file.uploaded_at is None:
            return None
        if self.media_lifetime is not None and now >= file.uploaded_at + self.media_lifetime - VALIDITY_MARGIN:
            return None
        return file.media_id

    async def deliver_file(self, claim: Claim, file: OutboxFile) -> Outcome:
        content = await read_content(self.ctx, file)
        if content is None:
            return await self.fallback(claim, "文件已不在服务器的文件存储中，未能直接发送")
        if len(content) > self.size_limit:
            shown = file_size(self.size_limit)
            reason = f"文件大小 {file_size(len(content))}，超过{self.platform_name}机器人发送文件 {shown} 的上限"
            return await self.fallback(claim, reason)
        now = datetime.now(UTC)
        media_id = self._usable(file, now)
        if media_id is None:
            uploaded = await self.upload(claim, file.name, content)
            if isinstance(uploaded, Outcome):
                return await self._upload_failed(claim, uploaded)
            media_id = uploaded.media_id
            await record_media(self.ctx, claim.id, media_id, now)
        outcome = await self.send_file(claim, media_id, file.name)
        if self.media_refused(outcome):
            # Expired early, or the robot changed: upload afresh on the retry.
            await record_media(self.ctx, claim.id, None, None)
            return Outcome.retry("平台不再认可已上传的文件，将重新上传", errcode=outcome.errcode, detail=outcome.detail)
        return outcome

    async def _upload_failed(self, claim: Claim, outcome: Outcome) -> Outcome:
        log.warning("outbox row %s: uploading its file failed: %s", claim.id, outcome.describe())
        if outcome.kind is Kind.PERMANENT:
            sent = await self.fallback(claim, f"文件上传被{self.platform_name}拒绝（{outcome.describe()}）")
            return replace(sent, file_refused=outcome) if sent.kind is Kind.OK else sent
        if claim.attempts >= UPLOAD_TRIES:
            return await self.fallback(claim, f"文件多次上传未成功（最近一次：{outcome.describe()}）")
        # Nothing reached anyone: an upload without an answer is as safe to repeat as one refused for now.
        return Outcome.retry(f"上传文件未成功：{outcome.cause}", errcode=outcome.errcode, detail=outcome.detail)

    async def fallback(self, claim: Claim, reason: str) -> Outcome:
        """The row's text (where to get the file), after the reason the file itself could not be sent."""
        message = message_of(claim)
        text = message.model_copy(update={"body": f"{reason}。\n{message.body}"})
        outcome = Outcome.ok()
        for payload in self.text_payloads(claim, text):
            outcome = await self.send_text(claim, payload)
            if outcome.kind is not Kind.OK:
                return outcome
        return outcome
