"""The domain in tables (DESIGN.md, "The domain, in tables").

Timestamps are stored in UTC (``UtcDateTime``); periods are month strings ``YYYY-MM``.
Nothing a person sent is ever deleted: people and units are deactivated, submissions are versioned.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import NAMING_CONVENTION, Base, BigId, UtcDateTime, enum_type, utcnow
from storage.models.blobs import Blob, BlobChunk
from storage.models.console import ConsoleLogin, ConsoleSession
from storage.models.leases import ConnectionLease
from storage.models.meetings import Meeting
from storage.models.rounds import Round, RoundAnswer

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "BigId",
    "Blob",
    "BlobChunk",
    "ConnectionLease",
    "ConsoleLogin",
    "ConsoleSession",
    "Meeting",
    "Round",
    "RoundAnswer",
    "UtcDateTime",
    "enum_type",
    "utcnow",
]


class Role(enum.StrEnum):
    """A person's place on the roster."""

    A = "A"  # the liaison (联络员, A角)
    B = "B"  # the deputy (B角)
    OFFICE = "office"  # a member of the mechanism's office (办公室)

    @property
    def label(self) -> str:
        return {"A": "A角", "B": "B角", "office": "办公室"}[self.value]

    @property
    def is_liaison(self) -> bool:
        return self in (Role.A, Role.B)


class InboxState(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (possibly after a back-off)
    SENDING = "sending"  # a dispatcher holds it and the request may be on the wire
    SENT = "sent"
    FAILED = "failed"  # permanent failure, the office was told
    UNCERTAIN = "uncertain"  # the send began but its outcome is unknown; only a person may resend it
    CANCELLED = "cancelled"


class FileState(enum.StrEnum):
    """Where a file a person sent stands: waiting to be fetched, kept, or why not."""

    PENDING = "pending"  # the platform still holds it; the fetch queue will get it
    STORED = "stored"  # the bytes are in the blob store under ``sha256``
    LOST = "lost"  # the platform's reference ran out (or was refused) before it could be fetched
    REFUSED = "refused"  # over the size limit: not kept, sender and office told


class Unit(Base):
    """A member unit (成员单位)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    division: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    people: Mapped[list[Person]] = relationship(back_populates="unit")


class Person(Base):
    """Someone on the roster: a unit's liaison (A角) or deputy (B角), or an office member."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    mobile: Mapped[str | None] = mapped_column(String(20), unique=True)
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    feishu_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    """Feishu ``user_id`` (tenant-scoped, the same in every app of the tenant; see ``bot.transports.feishu_ws``)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit | None] = relationship(back_populates="people")
    memberships: Mapped[list[GroupMember]] = relationship(back_populates="person", cascade="all, delete-orphan")


class Group(Base):
    """A chat group the bot posts to (mirrors ``[[groups]]`` in the config, synced at start)."""

    __tablename__ = "chat_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    webhook: Mapped[str] = mapped_column(String(500), default="")
    chat_id: Mapped[str] = mapped_column(String(128), default="")
    is_office: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[GroupMember]] = relationship(back_populates="group", cascade="all, delete-orphan")


class GroupMember(Base):
    """Which roster people sit in which group (the roster's 所在群 column)."""

    __tablename__ = "group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("chat_group.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)

    group: Mapped[Group] = relationship(back_populates="members")
    person: Mapped[Person] = relationship(back_populates="memberships")


class InboxMessage(Base):
    """Everything that arrived from a platform, stored before the request is answered."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "message_id", name="uq_inbox_platform_message"),
        Index("ix_inbox_state_id", "state", "id"),
        # The worker's per-sender order: "is an earlier row of this sender unsettled?" (bot/inbox_worker.py).
        Index(
            "ix_inbox_sender_unsettled",
            "platform",
            "sender_id",
            "id",
            postgresql_where=sql_text("state IN ('pending', 'processing')"),
            sqlite_where=sql_text("state IN ('pending', 'processing')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    sender_id: Mapped[str] = mapped_column(String(128))
    sender_name: Mapped[str] = mapped_column(String(128), default="")
    chat_id: Mapped[str] = mapped_column(String(128), default="")
    chat_type: Mapped[str] = mapped_column(String(16), default="single")
    msgtype: Mapped[str] = mapped_column(String(32), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    quoted: Mapped[str] = mapped_column(Text, default="", server_default="")  # the text of the message it quotes
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    reply: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[InboxState] = mapped_column(enum_type(InboxState), default=InboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column()
    handled_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class Submission(Base):
    """One version of a unit's report for a period (an answer to that period's monthly round); every version is
    kept, the latest counts."""

    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("unit_id", "period", "version", name="uq_submission_unit_period_version"),
        Index("ix_submission_period_unit", "period", "unit_id"),
        Index("ix_submission_round_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    period: Mapped[str] = mapped_column(String(7))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round.id"))  # the period's monthly round
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    is_supplement: Mapped[bool] = mapped_column(Boolean, default=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    on_time: Mapped[bool] = mapped_column(Boolean)

    unit: Mapped[Unit] = relationship()
    person: Mapped[Person | None] = relationship()


class OutboxMessage(Base):
    """Something the bot will say, written in the same transaction as the event that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "due_at"),
        Index("ix_outbox_rate_key_state_id", "rate_key", "state", "id"),
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    rate_key: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("chat_group.id"))
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str] = mapped_column(String(64), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[OutboxState] = mapped_column(enum_type(OutboxState), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)  # a split message resumes at the next part
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_since: Mapped[datetime | None] = mapped_column()
    sending_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column()
    errcode: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    resent_from: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    # A file the message carries (a document the office asked for): its content in the blob store and the name
    # it is shown under. Senders that can send files upload it, then send it; the others send the text.
    file_sha256: Mapped[str | None] = mapped_column(ForeignKey("blob.sha256"))
    file_name: Mapped[str | None] = mapped_column(String(255))
    # The platform's id for the uploaded file, kept so that a retry sends it again without a new upload while
    # the platform still honours it (WeCom: 3 days).
    media_id: Mapped[str | None] = mapped_column(String(255))
    media_uploaded_at: Mapped[datetime | None] = mapped_column()


class SendLog(Base):
    """One request made to a platform; the rate limiter counts these, so limits hold across instances."""

    __tablename__ = "send_log"
    __table_args__ = (
        Index("ix_send_log_rate_key_at", "rate_key", "at"),
        Index("ix_send_log_outbox_id", "outbox_id"),
        Index("ix_send_log_at", "at"),  # recent failures for /healthz; pruning old entries
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rate_key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    outcome: Mapped[str] = mapped_column(String(16), default="")
    errcode: Mapped[str | None] = mapped_column(String(32))


class JobClaim(Base):
    """The claim on one occurrence of a timed job: whoever inserts it first runs it, everyone else skips."""

    __tablename__ = "job_claim"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurrence: Mapped[datetime] = mapped_column(primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    note: Mapped[str] = mapped_column(Text, default="")


class Draft(Base):
    """An item the office drafted for a coming weekly briefing or monthly circular (``周报 添加 …``).

    ``period_key`` names the briefing it was written for (ISO week ``2026-W45`` or month ``2026-12``); the
    first briefing of that kind composed for that key or later takes it and records itself in
    ``used_by_occurrence``. A withdrawn draft is kept, marked, never deleted.
    """

    __tablename__ = "draft"
    __table_args__ = (Index("ix_draft_kind_period_key", "kind", "period_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "weekly" | "monthly"
    period_key: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    author: Mapped[str] = mapped_column(String(64), default="")
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_by_occurrence: Mapped[str | None] = mapped_column(String(120))
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(Base):
    """Every office command and its outcome, and every refused attempt."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(32), default="ok")
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    via: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")  # chat | cli | console


class PendingAction(Base):
    """An office action waiting for ``确认 CODE`` (announcements): nothing is broadcast by accident."""

    __tablename__ = "pending_action"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class SandboxMessage(Base):
    """What the bot said on the sandbox platform (the local chat of the demo and the tests)."""

    __tablename__ = "sandbox_message"
    __table_args__ = (Index("ix_sandbox_message_chat_id", "chat", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemState(enum.StrEnum):
    """Where a coordination item (督办事项) stands, from raised to closed."""

    RAISED = "raised"  # 待交办
    ASSIGNED = "assigned"  # 已交办
    IN_PROGRESS = "in_progress"  # 办理中
    REVIEW = "review"  # 待审核
    CLOSED = "closed"  # 已办结
    STOPPED = "stopped"  # 已中止

    @property
    def label(self) -> str:
        return {
            "raised": "待交办",
            "assigned": "已交办",
            "in_progress": "办理中",
            "review": "待审核",
            "closed": "已办结",
            "stopped": "已中止",
        }[self.value]

    @property
    def is_open(self) -> bool:
        return self not in (ItemState.CLOSED, ItemState.STOPPED)


class ItemSupport(Base):
    """A supporting unit (配合单位) of an item."""

    __tablename__ = "item_support"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)


class Item(Base):
    """A coordination item (督办事项) in the office's ledger (台账), known to people by its ``number`` (#12)."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("number", name="uq_item_number"),
        Index("ix_item_state_due", "state", "due"),
        Index("ix_item_lead_unit_id", "lead_unit_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    raised_by_office: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    due: Mapped[date | None] = mapped_column(Date)
    state: Mapped[ItemState] = mapped_column(enum_type(ItemState), default=ItemState.RAISED)
    assigned_at: Mapped[datetime | None] = mapped_column()
    signed_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()  # closed (已办结) or stopped (已中止)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    raised_by: Mapped[Person | None] = relationship()
    lead_unit: Mapped[Unit | None] = relationship()
    supporting_units: Mapped[list[Unit]] = relationship(secondary="item_support", order_by="Unit.id")
    events: Mapped[list[ItemEvent]] = relationship(back_populates="item", order_by="ItemEvent.id")


class ItemEvent(Base):
    """One step in an item's timeline: who did what, when, with what words (and any change of due date)."""

    __tablename__ = "item_event"
    __table_args__ = (Index("ix_item_event_item_id_id", "item_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(16))  # raise, assign, sign, progress, done, close, reject, extend, stop
    text: Mapped[str] = mapped_column(Text, default="")
    old_due: Mapped[date | None] = mapped_column(Date)
    new_due: Mapped[date | None] = mapped_column(Date)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))

    item: Mapped[Item] = relationship(back_populates="events")


class StoredFile(Base):
    """A file, image, voice or video a person sent: its metadata, and its place in the fetch queue.

    The row is written (``pending``) in the transaction that handles the message; the fetch queue takes it
    under a lease (``locked_by``/``locked_until``), as the inbox does, and settles it ``stored``, ``lost`` or
    ``refused``. The bytes live in the blob store under ``sha256`` (content-addressed: one copy however often
    the same file arrives).
    """

    __tablename__ = "stored_file"
    __table_args__ = (
        Index("ix_stored_file_state_due", "state", "next_attempt_at"),
        Index("ix_stored_file_period_unit", "period", "unit_id"),
        Index("ix_stored_file_submission_id", "submission_id"),
        Index("ix_stored_file_inbox_id", "inbox_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # file | image | voice | video
    name: Mapped[str] = mapped_column(String(200))  # safe to use as a file name (see storage.file_names)
    original_name: Mapped[str] = mapped_column(Text, default="")  # as the platform gave it, never used as a path
    content_type: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    period: Mapped[str | None] = mapped_column(String(7))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    sender_id: Mapped[str] = mapped_column(String(128), default="")
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    channel: Mapped[str] = mapped_column(String(32))
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the platform's handle, as the adapter gave it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime] = mapped_column()
    state: Mapped[FileState] = mapped_column(enum_type(FileState), default=FileState.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    text: Mapped[str] = mapped_column(Text, default="")  # extracted from a document (bounded)
    text_note: Mapped[str] = mapped_column(Text, default="")  # why no text could be extracted, if so
    reply_lead: Mapped[str] = mapped_column(Text, default="")  # the handler's confirmation, sent once all settle

    submission: Mapped[Submission | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    person: Mapped[Person | None] = relationship()
