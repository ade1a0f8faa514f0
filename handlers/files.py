"""Files as part of a liaison's report, and what is said once they have been fetched.

- A document (``file``) from a liaison is a report version for the open period. When it follows the same
  liaison's text version within ``policy.file_join_window`` (default 10 minutes), it joins that version
  instead ("10月工作进展见附件" and then the document).
- Images, voice and video are attached to the latest version of the open period, or make version 1.
- Each attachment becomes a ``pending`` row of :mod:`storage.files`; the fetch queue gets the bytes. The
  confirmation waits until every file of the message is settled, so that it names each file and its size (or
  why it could not be taken); it goes out by :func:`settle_message`.
- In a group, the platforms deliver no files: a message that asks how to send one gets advice to send it
  1:1, and a report that mentions an attachment is filed with that advice in its confirmation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import file_texts, texts
from handlers.reports import attachment_records
from handlers.respond import reply
from storage.files import record_files, unsettled_siblings
from storage.models import FileState, Group, InboxMessage, Person, StoredFile, Submission, Unit
from storage.monthly_round import is_on_time, monthly_round
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.policy import Policy
from storage.submissions import add_version, latest_version, lock_unit

DOCUMENT_KINDS = frozenset({"file"})
_MENTIONS = re.compile(r"附件|附后|见文件|详见文件|文件见|(?:word|pdf|excel|wps)\s*(?:版|文件|文档)", re.IGNORECASE)
_ASKS = re.compile(
    r"(?:怎么|怎样|如何|能否|可以|能不能)[^。！？?\n]{0,8}(?:发|传|上传|提交|报送)[^。！？?\n]{0,6}(?:附件|文件|文档)"
)


def asks_how_to_send(text: str) -> bool:
    """``附件怎么发？``, ``如何上传文件``: a question about sending a file, not a report."""
    return bool(_ASKS.search(text)) or (len(text) <= 30 and "附件" in text and text.rstrip().endswith(("?", "？")))


def mentions_attachment(text: str) -> bool:
    return bool(_MENTIONS.search(text))


def _kind(row: InboxMessage, item: dict[str, object]) -> str:
    kind = str(item.get("kind") or row.msgtype)
    return "image" if kind == "picture" else kind


async def file_attachment(
    session: AsyncSession, row: InboxMessage, person: Person, unit: Unit, policy: Policy
) -> Submission:
    """File a message's attachments into the unit's report for the open period (confirmed once fetched)."""
    period = policy.deadline.open_period(row.received_at)
    items = [dict(item) for item in row.attachments if isinstance(item, dict)] or [{"kind": row.msgtype}]
    for item in items:
        item["kind"] = _kind(row, item)
    records = attachment_records(row)
    await lock_unit(session, unit.id)
    latest = await latest_version(session, unit.id, period, lock=True)
    is_document = any(item["kind"] in DOCUMENT_KINDS for item in items)
    joins = latest is not None and (not is_document or _within_window(latest, person, row, policy))
    if latest is not None and joins:
        latest.attachments = [*latest.attachments, *records]
        submission, new_version = latest, False
    else:
        carried = list(latest.attachments) if latest is not None else []
        round_ = await monthly_round(session, policy.deadline, period)
        submission = await add_version(
            session,
            unit_id=unit.id,
            period=period,
            round_id=round_.id,
            text="",
            received_at=row.received_at,
            on_time=is_on_time(round_, row.received_at),
            person_id=person.id,
            inbox_id=row.id,
            attachments=carried + records,
        )
        new_version = True
    lead = texts.attachment_received(
        unit.name, submission, period, policy.tz, kinds=[str(item["kind"]) for item in items], new_version=new_version
    )
    taken = [
        name for name in await session.scalars(select(StoredFile.name).where(StoredFile.submission_id == submission.id))
    ]
    record_files(
        session,
        row,
        items,
        unit_id=unit.id,
        period=str(period),
        submission_id=submission.id,
        person_id=person.id,
        reply_lead=lead,
        taken=taken,
    )
    return submission


def keep_unfiled(session: AsyncSession, row: InboxMessage, person: Person, *, lead: str) -> None:
    """Fetch and keep a message's files without filing them in any report (an office member's, say)."""
    items = [dict(item) for item in row.attachments if isinstance(item, dict)] or [{"kind": row.msgtype}]
    for item in items:
        item["kind"] = _kind(row, item)
    record_files(
        session, row, items, unit_id=None, period=None, submission_id=None, person_id=person.id, reply_lead=lead
    )


def _within_window(latest: Submission, person: Person, row: InboxMessage, policy: Policy) -> bool:
    """The latest version is this liaison's own text, sent no longer than the window before the document."""
    return (
        latest.person_id == person.id
        and bool(latest.text.strip())
        and timedelta(0) <= row.received_at - latest.received_at <= policy.file_join_window
    )


async def settle_message(session: AsyncSession, file: StoredFile, policy: Policy, now: datetime) -> None:
    """After ``file`` is settled: tell the office of a loss or refusal, and once every file of its message is
    settled, confirm to the sender naming each file and its size."""
    if file.state in (FileState.LOST, FileState.REFUSED):
        await _tell_office(session, file, policy)
    if file.inbox_id is None or await unsettled_siblings(session, file):
        return
    row = await session.get(InboxMessage, file.inbox_id)
    if row is None:
        return
    siblings = list(
        await session.scalars(select(StoredFile).where(StoredFile.inbox_id == row.id).order_by(StoredFile.id))
    )
    lead = next((sibling.reply_lead for sibling in siblings if sibling.reply_lead), "")
    reply(session, row, file_texts.files_settled(lead, siblings, policy.max_file_bytes / 1024 / 1024))


async def _tell_office(session: AsyncSession, file: StoredFile, policy: Policy) -> None:
    unit = await session.get(Unit, file.unit_id) if file.unit_id is not None else None
    person = await session.get(Person, file.person_id) if file.person_id is not None else None
    notice = OutboundMessage(
        body=file_texts.office_file_problem(
            file,
            person.name if person is not None else file.sender_id,
            unit.name if unit is not None else "未关联单位",
            policy.tz,
            policy.max_file_bytes / 1024 / 1024,
        )
    )
    offices = await session.scalars(select(Group).where(Group.is_office.is_(True), Group.active.is_(True)))
    for group in offices:
        enqueue_to_group(session, group, notice, origin="file_problem", dedupe_key=f"file-problem:{file.id}:{group.id}")
