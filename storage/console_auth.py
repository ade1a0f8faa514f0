"""Sign-in to the console without passwords: one-time links and server-side sessions.

A link carries a random token; the database keeps only its SHA-256, with the person it is bound to, an expiry
(:data:`LINK_TTL`) and when it was used — a link works once. Redeeming it opens a session: the browser's cookie
holds a random id, the database its SHA-256, the person, a CSRF token, and when it was last seen. A session not
seen for :data:`IDLE_TIMEOUT` is over; so is one that its holder signed out of or the office ended. Every instance
reads the same tables, so a session opened on one is known to all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import ConsoleLogin, ConsoleSession, Person

LINK_TTL = timedelta(minutes=10)
IDLE_TIMEOUT = timedelta(hours=8)
# Writing last_seen_at on every request would turn every page view into a write; a minute's slack is enough.
TOUCH_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_link_token(session: AsyncSession, person: Person, *, now: datetime, via: str) -> str:
    """A fresh one-time token for ``person`` (its hash is stored); the caller builds the link around it."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLogin(
            token_hash=digest(token), person_id=person.id, created_at=now, expires_at=now + LINK_TTL, issued_via=via
        )
    )
    await session.flush()
    return token


class LinkRefused(Exception):
    """The link cannot open a session; the message says why, in Chinese."""


@dataclass(frozen=True)
class OpenedSession:
    session_id: str  # for the cookie only; never stored or logged
    person: Person
    csrf_token: str


async def redeem_link(
    session: AsyncSession, token: str, *, now: datetime, user_agent: str = "", address: str = ""
) -> OpenedSession:
    """Use up the link ``token`` and open a session for its person, or raise :class:`LinkRefused`."""
    if not token or len(token) > 128:
        raise LinkRefused("登录链接无效。")
    used = await session.execute(
        update(ConsoleLogin)
        .where(ConsoleLogin.token_hash == digest(token), ConsoleLogin.used_at.is_(None), ConsoleLogin.expires_at > now)
        .values(used_at=now)
        .returning(ConsoleLogin.person_id)
        .execution_options(synchronize_session=False)
    )
    person_id = used.scalar()
    if person_id is None:
        found = await session.get(ConsoleLogin, digest(token))
        if found is None:
            raise LinkRefused("登录链接无效。")
        if found.used_at is not None:
            raise LinkRefused("该登录链接已使用过（每个链接只能使用一次）。")
        raise LinkRefused("该登录链接已过期（有效期 10 分钟）。")
    person = await session.scalar(
        select(Person).where(Person.id == person_id).options(selectinload(Person.unit)).limit(1)
    )
    if person is None or not person.active:
        raise LinkRefused("该人员已不在名册中，无法登录。")
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(
        ConsoleSession(
            id_hash=digest(session_id),
            person_id=person.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            user_agent=user_agent[:200],
            address=address[:64],
        )
    )
    await session.flush()
    return OpenedSession(session_id=session_id, person=person, csrf_token=csrf)


async def live_session(session: AsyncSession, session_id: str, *, now: datetime) -> ConsoleSession | None:
    """The open session behind cookie value ``session_id`` (its person and unit loaded), seen now; else ``None``.

    A session idle past :data:`IDLE_TIMEOUT`, ended, or whose person left the roster is ``None``.
    """
    if not session_id or len(session_id) > 128:
        return None
    row = await session.scalar(
        select(ConsoleSession)
        .where(ConsoleSession.id_hash == digest(session_id))
        .options(selectinload(ConsoleSession.person).selectinload(Person.unit))
    )
    if row is None or row.ended_at is not None or now - row.last_seen_at > IDLE_TIMEOUT or not row.person.active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


async def end_session(session: AsyncSession, id_hash: str, *, now: datetime, by: str) -> bool:
    """End the session ``id_hash`` (sign-out, or the office ending it); ``False`` if it was not open."""
    result = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id_hash == id_hash, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, ended_by=by[:128])
        .returning(ConsoleSession.id_hash)
        .execution_options(synchronize_session=False)
    )
    return result.scalar() is not None


async def open_sessions(session: AsyncSession, *, now: datetime) -> list[ConsoleSession]:
    """Sessions still open (not ended, seen within the idle timeout), most recently seen first."""
    rows = await session.scalars(
        select(ConsoleSession)
        .where(ConsoleSession.ended_at.is_(None), ConsoleSession.last_seen_at >= now - IDLE_TIMEOUT)
        .options(selectinload(ConsoleSession.person).selectinload(Person.unit))
        .order_by(ConsoleSession.last_seen_at.desc())
    )
    return list(rows)
