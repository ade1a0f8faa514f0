"""``通知 [@群名] 内容`` / ``/announce`` and ``确认 CODE`` / ``/confirm``: an announcement in two steps.

``通知`` only stores the announcement as a :class:`PendingAction` and answers with a preview and a short code;
``确认 CODE`` from any office member queues it, one outbox row per group, each with the dedupe key
``announce:CODE:GROUP`` so that nothing is ever posted twice. The confirmation is claimed by a conditional
update, so two ``确认`` racing each other cannot both queue it.

The text is the office's own: it is sent as written (markdown allowed, its http/https links kept working), and it
reaches everyone (@all) only when the office writes ``@所有人``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.commands.registry import CommandContext, command, normalize
from storage.models import Group, PendingAction, Person
from storage.outbound import OutboundMessage, addresses, enqueue_to_group, office_links

KIND = "announce"
VALID_MINUTES = 30
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I, which people misread
CODE_LENGTH = 4
AT_ALL = "@所有人"
_TARGET = re.compile(r"^[@＠](?P<name>\S+)\s*")

Confirmer = Callable[[CommandContext, PendingAction], Awaitable[None]]
CONFIRMERS: dict[str, Confirmer] = {}
"""What ``确认 CODE`` does for other kinds of pending action (``征集``…), after the shared checks and claim."""


async def target_groups(session: AsyncSession, name: str | None) -> list[Group]:
    """The active group called ``name``, or every active group but the office's own."""
    query = select(Group).where(Group.active.is_(True)).order_by(Group.id)
    query = query.where(Group.is_office.is_(False)) if name is None else query.where(Group.name == name)
    return list(await session.scalars(query))


async def new_code(session: AsyncSession) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if await session.get(PendingAction, code) is None:
            return code


def split_target(raw: str, group_names: list[str]) -> tuple[str | None, str]:
    """``@群名 内容`` → (群名, 内容), preferring the longest known group name (names may hold spaces).

    ``@所有人`` is not a group but the wish to reach everyone; it stays in the text.
    """
    if not raw.startswith(("@", "＠")) or raw.startswith((AT_ALL, "＠所有人")):
        return None, raw.strip()
    rest = raw[1:]
    for name in sorted(group_names, key=len, reverse=True):
        if rest.startswith(name) and (len(rest) == len(name) or rest[len(name)].isspace()):
            return name, rest[len(name) :].strip()
    found = _TARGET.match(raw)
    if found is None:  # a bare "@": no group and no text
        return None, ""
    return found["name"], raw[found.end() :].strip()


@command("通知", "/announce", usage="通知 [@群名] 内容", summary="向全部成员单位群（或指定群）发送通知，需确认后发出")
async def announce(ctx: CommandContext) -> None:
    known = list(await ctx.session.scalars(select(Group.name).where(Group.active.is_(True))))
    group_name, text = split_target(ctx.raw_args, known)
    at_all = AT_ALL in text or "＠所有人" in text
    text = text.replace(AT_ALL, "").replace("＠所有人", "").strip()
    if not text:
        ctx.reply(texts.ANNOUNCE_USAGE)
        ctx.audit("通知", ctx.args, "invalid")
        return
    groups = await target_groups(ctx.session, group_name)
    if not groups:
        if group_name is not None:
            available = [group.name for group in await target_groups(ctx.session, None)]
            ctx.reply(texts.unknown_group(group_name, available))
            ctx.audit("通知", ctx.args, "unknown_group")
        else:
            ctx.reply(texts.NO_GROUPS)
            ctx.audit("通知", ctx.args, "no_groups")
        return
    code = await new_code(ctx.session)
    ctx.session.add(
        PendingAction(
            code=code,
            kind=KIND,
            payload={"text": text, "group": group_name, "at_all": at_all, "inbox_id": ctx.inbox.id},
            person_id=ctx.person.id,
            created_at=ctx.now,
            expires_at=ctx.now + timedelta(minutes=VALID_MINUTES),
        )
    )
    ctx.reply(texts.announce_preview(text, [group.name for group in groups], code, VALID_MINUTES, at_all))
    ctx.audit("通知", f"确认码 {code}，发送至{group_name or '全部群'}：{text[:200]}", "pending")


@command("确认", "/confirm", usage="确认 确认码", summary="确认发送“通知”预览中的通知")
async def confirm(ctx: CommandContext) -> None:
    code = normalize(ctx.args).upper().replace(" ", "")
    if len(code) > CODE_LENGTH * 4:
        code = code[: CODE_LENGTH * 4]
    if not code:
        ctx.reply(texts.CONFIRM_USAGE)
        ctx.audit("确认", ctx.args, "invalid")
        return
    pending = await ctx.session.get(PendingAction, code)
    if pending is None or (pending.kind != KIND and pending.kind not in CONFIRMERS):
        ctx.reply(texts.confirm_unknown(code))
        ctx.audit("确认", code, "unknown")
        return
    if pending.confirmed_at is None and ctx.now > pending.expires_at:
        ctx.reply(texts.confirm_expired(code, VALID_MINUTES))
        ctx.audit("确认", code, "expired")
        return
    if pending.kind != KIND:
        if await _claim(ctx, pending, code):
            await CONFIRMERS[pending.kind](ctx, pending)
        return
    groups = await target_groups(ctx.session, pending.payload.get("group"))
    if pending.confirmed_at is None and not groups:
        ctx.reply(texts.NO_GROUPS)
        ctx.audit("确认", code, "no_groups")
        return
    if not await _claim(ctx, pending, code):
        return
    message = OutboundMessage(
        body=office_links(str(pending.payload["text"])),
        links=addresses(str(pending.payload["text"])),
        title=texts.announcement_title(ctx.policy.office_name),
        at_all=bool(pending.payload.get("at_all")),
    )
    for group in groups:
        enqueue_to_group(
            ctx.session, group, message, origin=f"announce:{code}", dedupe_key=f"announce:{code}:{group.name}"
        )
    ctx.reply(texts.announced([group.name for group in groups]))
    ctx.audit("确认", f"{code}：{len(groups)}个群")


async def _claim(ctx: CommandContext, pending: PendingAction, code: str) -> bool:
    """Mark ``pending`` confirmed by a conditional update; ``False`` (answered, audited) if another did first."""
    claimed = await ctx.session.execute(
        update(PendingAction)
        .where(PendingAction.code == code, PendingAction.confirmed_at.is_(None))
        .values(confirmed_at=ctx.now, confirmed_by=ctx.person.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await ctx.session.refresh(pending)
        confirmer = await ctx.session.get(Person, pending.confirmed_by) if pending.confirmed_by else None
        at = pending.confirmed_at or ctx.now
        ctx.reply(texts.confirm_repeated(code, at, confirmer.name if confirmer else "办公室", ctx.policy.tz))
        ctx.audit("确认", code, "already_confirmed")
        return False
    return True
