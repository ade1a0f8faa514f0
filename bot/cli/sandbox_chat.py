"""The sandbox chat from the command line: what ``duban say`` and ``duban sandbox show`` do.

``say`` speaks as a roster person through the very pipeline a platform message takes. When a service answers at
the configured address, the message goes to its ``/sandbox/messages`` endpoint and ``say`` waits (within a bound)
for the service to handle it and post the answer. Otherwise the pipeline runs in this process: store, handle with
the inbox worker's :func:`~bot.inbox_worker.process_one`, send the sandbox replies once. Either way ``say`` then
prints what the bot said.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select

from bot.cli.base import CliError, open_checked
from bot.config import Settings
from bot.sandbox_address import PATH, is_loopback
from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState, Person, SandboxMessage

POLL_SECONDS = 0.05  # a cheap indexed read; the service usually answers within a few of them
SERVICE_TIMEOUT_SECONDS = 5.0
SHOWN_CHARS = 500


@dataclass(frozen=True)
class Line:
    """One line of a sandbox chat, from either side."""

    at: datetime
    chat: str
    speaker: str
    text: str


async def resolve_person(db: Database, who: str) -> Person:
    """The roster person ``who`` names: a name, a mobile number, a WeCom, DingTalk or Feishu account, or a roster id."""
    who = who.strip()
    matches = [
        Person.name == who,
        Person.mobile == who,
        Person.wecom_userid == who,
        Person.dingtalk_userid == who,
        Person.feishu_userid == who,
    ]
    if who.isascii() and who.isdigit() and len(who) <= 9:
        matches.append(Person.id == int(who))
    async with db.sessions() as session:
        people = list((await session.scalars(select(Person).where(or_(*matches)).order_by(Person.id))).all())
    active = [person for person in people if person.active]
    candidates = active or people
    if not candidates:
        raise CliError(
            f"名册中没有「{who}」（可用姓名、手机号、企业微信或钉钉账号）。可运行 `duban roster show` 查看名册。"
        )
    if len(candidates) > 1:
        listed = "、".join(f"{p.name}（编号 {p.id}，手机 {p.mobile or '无'}）" for p in candidates)
        raise CliError(f"「{who}」对应多人：{listed}。请改用手机号、账号或名册编号。")
    return candidates[0]


def service_url(settings: Settings) -> str:
    host = settings.server.host
    if not is_loopback(host):  # a wildcard or public address: the service is reachable on loopback too
        host = "::1" if ":" in host else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}{PATH}"


def _post_json(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    """POST ``body`` as JSON to the loopback service, never through a proxy the environment names."""
    request = urllib.request.Request(  # noqa: S310 -- ``url`` is the http:// address service_url builds
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=SERVICE_TIMEOUT_SECONDS) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


async def post_to_service(settings: Settings, body: dict[str, Any]) -> dict[str, Any] | None:
    """Send through a running service's sandbox; ``None`` when no service takes it here.

    The standard library's client in a thread: ``say`` sends one request, not worth loading aiohttp for.
    """
    try:
        status, answer = await asyncio.to_thread(_post_json, service_url(settings), body)
        if status == 200:
            return dict(json.loads(answer))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return None
    if status == 400:
        raise CliError(f"服务拒绝了这条消息：{answer.decode(errors='replace')}")
    return None  # 404: the service's sandbox is off; 403/5xx: not ours to use


async def latest_transcript_id(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(SandboxMessage.id), 0))) or 0)


async def settled(db: Database, message_id: str) -> bool:
    """Has the message been handled, and has every sandbox answer that is due been posted?"""
    async with db.sessions() as session:
        state = await session.scalar(
            select(InboxMessage.state).where(InboxMessage.platform == "sandbox", InboxMessage.message_id == message_id)
        )
        if state not in (InboxState.DONE, InboxState.FAILED):
            return False
        unsent = await session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.channel == "sandbox",
                OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                OutboxMessage.due_at <= datetime.now(UTC),
            )
        )
        return not unsent


async def wait_until_settled(db: Database, message_id: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if await settled(db, message_id):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)


async def run_in_process(settings: Settings, db: Database, body: dict[str, Any], wait_seconds: float) -> bool:
    """No service takes sandbox messages here: store, handle and send the sandbox answers in this process.

    ``False`` if the answers are still outstanding (a service whose sandbox is off took the row first).
    """
    from bot.context import AppContext
    from bot.inbound.sandbox import SandboxPost, sandbox_message
    from bot.inbox_worker import process_one
    from bot.outbound.dispatcher import drain_once
    from storage.inbox import store_inbound
    from storage.sync import sync_groups

    ctx = AppContext(settings=settings, db=db)
    await sync_groups(db, settings.groups)
    message = sandbox_message(SandboxPost(**body))
    async with db.transaction() as session:
        row = await store_inbound(session, message)
        row_id = None if row is None else row.id
    if row_id is not None and not await process_one(ctx, row_id):
        return await wait_until_settled(db, message.message_id, wait_seconds)
    await drain_once(ctx, channels={"sandbox"})
    return True


async def transcript_since(db: Database, after_id: int) -> list[SandboxMessage]:
    async with db.sessions() as session:
        query = select(SandboxMessage).where(SandboxMessage.id > after_id).order_by(SandboxMessage.id)
        return list((await session.scalars(query)).all())


def shown(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}……（共 {len(text)} 字）"


def print_bot_messages(messages: Sequence[SandboxMessage]) -> None:
    for message in messages:
        mentions = f"（提及：{'、'.join(map(str, message.mentions))}）" if message.mentions else ""
        print(f"[{message.chat}] 机器人{mentions}：")
        for line in message.text.splitlines() or [""]:
            print(f"  {line}")


async def say(settings: Settings, who: str, group: str | None, text: str, wait_seconds: float) -> int:
    if group is not None and group not in {g.name for g in settings.groups}:
        names = "、".join(g.name for g in settings.groups) or "（配置中没有群）"
        raise CliError(f"配置中没有名为「{group}」的群。已配置的群：{names}")
    db = await open_checked(settings)
    try:
        person = await resolve_person(db, who)
        if not person.active:
            print(f"注意：{person.name} 已停用，机器人会按“不在名册”处理。")
        body: dict[str, Any] = {"person_id": person.id, "group": group, "text": text}
        before = await latest_transcript_id(db)
        answer = await post_to_service(settings, body)
        if answer is None:
            complete = await run_in_process(settings, db, body, wait_seconds)
        else:
            complete = await wait_until_settled(db, str(answer["message_id"]), wait_seconds)
        replies = await transcript_since(db, before)
    finally:
        await db.close()
    where = f"[{group}]" if group else "[单聊]"
    print(f"{where} {person.name}：{shown(text)}")
    print_bot_messages(replies)
    if not replies and complete:
        print("（机器人没有回复）")
    if not complete:
        print(f"（{wait_seconds:.0f} 秒内服务尚未处理完毕；稍后可运行 `duban sandbox show` 查看回复）")
    return 0


async def chat_lines(db: Database, chat: str | None, last: int) -> list[Line]:
    """The last ``last`` lines of the sandbox chat(s): what people said (the inbox) and what the bot said."""
    async with db.sessions() as session:
        said = select(InboxMessage).where(InboxMessage.platform == "sandbox")
        answered = select(SandboxMessage)
        if chat:
            said = said.where(InboxMessage.chat_id == chat)
            answered = answered.where(SandboxMessage.chat == chat)
        inbound = (await session.scalars(said.order_by(InboxMessage.id.desc()).limit(last))).all()
        outbound = (await session.scalars(answered.order_by(SandboxMessage.id.desc()).limit(last))).all()
        ids = {int(row.sender_id) for row in inbound if row.sender_id.isdigit() and len(row.sender_id) <= 9}
        found = await session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))
        names: dict[int, str] = {person_id: name for person_id, name in found}
    lines = [
        Line(row.received_at, row.chat_id, names.get(int(row.sender_id), f"编号 {row.sender_id}"), row.text)
        for row in inbound
        if row.sender_id.isdigit()
    ]
    lines += [Line(message.at, message.chat, "机器人", message.text) for message in outbound]
    lines.sort(key=lambda line: line.at)
    return lines[-last:]


async def sandbox_show(settings: Settings, chat: str | None, last: int) -> int:
    db = await open_checked(settings)
    try:
        lines = await chat_lines(db, chat, last)
    finally:
        await db.close()
    if not lines:
        print("（沙箱中还没有聊天记录）" if not chat else f"（「{chat}」中还没有聊天记录）")
        return 0
    for line in lines:
        stamp = line.at.astimezone(settings.tz).strftime("%m-%d %H:%M")
        body = shown(line.text).splitlines() or [""]
        print(f"{stamp} [{line.chat}] {line.speaker}：{body[0]}")
        for rest in body[1:]:
            print(f"{'':>12}{rest}")
    return 0
