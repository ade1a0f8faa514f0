"""Telling the office that something it sent did not arrive — through another channel, once.

A permanent failure is reported once per target per local day (``dedupe_key``
``alert:{target}:{date}:{office group id}``) to every office group (``Group.is_office``) other than the
failing one. Rows that became *uncertain* are reported once, in one message per batch, to every office
group. The alerts are outbox rows like any other, written in the transaction that records the outcome.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbound.senders.base import Outcome
from storage.models import Group, OutboxMessage
from storage.outbound import BOT_SOCKET_CHANNEL, GROUP_CHANNELS, OutboundMessage, enqueue_to_group, quote

log = logging.getLogger(__name__)

ORIGIN = "alert"
UNCERTAIN_LISTED = 20

CHANNEL_LABELS = {
    "wecom_webhook": "企业微信群机器人",
    "dingtalk_robot": "钉钉群机器人",
    "feishu_bot": "飞书群机器人",
    "wecom_response_url": "企业微信智能机器人回复",
    "wecom_bot_ws": "企业微信智能机器人（长连接）",
    "feishu_reply": "飞书应用机器人回复",
    "dingtalk_session": "钉钉机器人回复",
    "dingtalk_app": "钉钉应用机器人消息",
    "wecom_app": "企业微信应用消息",
    "sandbox": "沙箱",
}


@dataclass(frozen=True)
class RowRef:
    """What an alert says about a row (from a claim or an orphaned row alike)."""

    id: int
    channel: str
    target: str
    group_id: int | None
    origin: str
    created_at: datetime

    @classmethod
    def of(cls, row: OutboxMessage) -> RowRef:
        return cls(row.id, row.channel, row.target, row.group_id, row.origin, row.created_at)


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def _dedupe_key(*parts: object) -> str:
    key = "alert:" + ":".join(str(part) for part in parts)
    if len(key) <= 200:
        return key
    return "alert:" + hashlib.sha256(key.encode()).hexdigest()


async def office_groups(session: AsyncSession) -> list[Group]:
    query = select(Group).where(Group.is_office.is_(True), Group.active.is_(True)).order_by(Group.id)
    return list((await session.scalars(query)).all())


def _is_target(group: Group, row: RowRef) -> bool:
    if row.group_id is not None and group.id == row.group_id:
        return True
    return row.channel in (*GROUP_CHANNELS.values(), BOT_SOCKET_CHANNEL) and group.name == row.target


async def _queue_once(session: AsyncSession, group: Group, message: OutboundMessage, key: str) -> bool:
    """Queue ``message`` to ``group`` unless an alert with ``key`` exists (another instance may race us)."""
    if await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        return False
    try:
        async with session.begin_nested():
            enqueue_to_group(session, group, message, origin=ORIGIN, dedupe_key=key)
    except IntegrityError:
        return False
    return True


def _local(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _about(row: RowRef, reason: str, outcome: Outcome, *, tz: ZoneInfo) -> list[str]:
    """What an alert says first: where the row went, which row it is, why, and the platform's own words."""
    code = f"（错误码 {outcome.errcode}）" if outcome.errcode else ""
    lines = [
        f"**发往**：{quote(row.target)}（{channel_label(row.channel)}）",
        f"**消息**：编号 {row.id}，{_local(row.created_at, tz)} 生成，来源 {quote(row.origin or '未注明')}",
        f"**原因**：{reason}{code}",
    ]
    if outcome.detail:
        lines.append(f"**平台答复**：{quote(outcome.detail, max_chars=200)}")
    return lines


def failure_message(row: RowRef, outcome: Outcome, *, tz: ZoneInfo) -> OutboundMessage:
    lines = _about(row, outcome.cause, outcome, tz=tz)
    lines += [
        f"**处理**：{outcome.fix}",
        f"处理完毕后，请在办公室群发送「重发 {row.id}」补发；运行 duban outbox list --failed 可查看全部未送达的消息。",
        "同一发送对象当日只提醒一次。",
    ]
    return OutboundMessage(title="消息未能送达", body="\n".join(lines))


def uncertain_message(rows: Sequence[RowRef], *, tz: ZoneInfo) -> OutboundMessage:
    lines = ["以下消息已开始发送，但未能获知结果，无法确认对方是否收到。为免重复，系统不会自动重发："]
    for row in rows[:UNCERTAIN_LISTED]:
        where = f"{quote(row.target)}（{channel_label(row.channel)}）"
        lines.append(f"- 编号 {row.id}：发往 {where}，{_local(row.created_at, tz)} 生成")
    if len(rows) > UNCERTAIN_LISTED:
        lines.append(f"- ……共 {len(rows)} 条，运行 duban outbox list --uncertain 可查看全部")
    lines.append("请到相应群内核实：如未收到，请在办公室群发送「重发 编号」；如已收到，无需处理。")
    return OutboundMessage(title="消息可能未送达，请核实", body="\n".join(lines))


async def alert_failure(session: AsyncSession, row: RowRef, outcome: Outcome, *, day: date, tz: ZoneInfo) -> int:
    """Tell the office about a permanent failure (once per target and local ``day``); returns alerts queued."""
    groups = [group for group in await office_groups(session) if not _is_target(group, row)]
    if not groups:
        log.error(
            "outbox row %s to %s failed (%s) and no other office group can be told", row.id, row.target, outcome.cause
        )
        return 0
    message = failure_message(row, outcome, tz=tz)
    queued = 0
    for group in groups:
        if await _queue_once(session, group, message, _dedupe_key(row.target, day.isoformat(), group.id)):
            queued += 1
    return queued


def file_refused_message(row: RowRef, refusal: Outcome, *, tz: ZoneInfo) -> OutboundMessage:
    lines = _about(row, f"平台拒绝上传文件：{refusal.cause}", refusal, tz=tz)
    lines += [
        "对方已收到文字说明（在哪里取得该文件），文件本身未能直接发送。",
        f"**处理**：{refusal.fix or '请核对该渠道的配置与权限。'}处理完毕后，再发送的文件即可直接送达。",
        "同一渠道、同一原因当日只提醒一次。",
    ]
    return OutboundMessage(title="文件未能直接发送", body="\n".join(lines))


async def alert_file_refused(session: AsyncSession, row: RowRef, refusal: Outcome, *, day: date, tz: ZoneInfo) -> int:
    """Tell the office that a channel refuses files for good (a text went in the file's place), once per channel,
    cause and local ``day``; returns alerts queued. Without it the office would learn it only from the people who
    asked for a document."""
    groups = [group for group in await office_groups(session) if not _is_target(group, row)]
    if not groups:
        log.error(
            "outbox row %s: %s refuses files (%s); no other office group can be told",
            row.id,
            row.channel,
            refusal.cause,
        )
        return 0
    message = file_refused_message(row, refusal, tz=tz)
    queued = 0
    for group in groups:
        key = _dedupe_key("file", row.channel, refusal.errcode or refusal.cause, day.isoformat(), group.id)
        if await _queue_once(session, group, message, key):
            queued += 1
    return queued


async def alert_uncertain(session: AsyncSession, rows: Sequence[RowRef], *, tz: ZoneInfo) -> int:
    """Tell every office group, once, which rows became uncertain; returns alerts queued."""
    if not rows:
        return 0
    groups = await office_groups(session)
    if not groups:
        log.error("outbox rows %s became uncertain and no office group is configured", [row.id for row in rows])
        return 0
    message = uncertain_message(rows, tz=tz)
    first = min(row.id for row in rows)
    queued = 0
    for group in groups:
        if await _queue_once(session, group, message, _dedupe_key("uncertain", first, group.id)):
            queued += 1
    return queued
