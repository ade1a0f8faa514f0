"""Leases on connections that only one instance may hold at a time, on SQLite and PostgreSQL alike.

A lease is one row per connection name. Taking it is a read-then-write in one transaction: PostgreSQL locks
the row (``FOR UPDATE``), SQLite's ``BEGIN IMMEDIATE`` serialises writers, and a first insert that loses a race
to another instance fails on the primary key — so two instances never both believe they hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConnectionLease


@dataclass(frozen=True)
class LeaseState:
    """The outcome of an attempt: who holds the lease now, and whether this attempt took it from another."""

    holder: str
    held_by_me: bool
    took_over_from: str | None = None
    generation: int = 0


async def acquire(session: AsyncSession, name: str, me: str, *, ttl: timedelta, now: datetime) -> LeaseState:
    """Take or renew the lease unless another instance holds it unexpired (the caller commits)."""
    query = select(ConnectionLease).where(ConnectionLease.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    lease = await session.scalar(query)
    if lease is None:
        try:
            async with session.begin_nested():
                session.add(
                    ConnectionLease(
                        name=name, holder=me, acquired_at=now, renewed_at=now, expires_at=now + ttl, generation=1
                    )
                )
        except IntegrityError:  # another instance inserted it first
            return LeaseState(holder="", held_by_me=False)
        return LeaseState(holder=me, held_by_me=True, generation=1)
    if lease.holder != me and lease.expires_at > now:
        return LeaseState(holder=lease.holder, held_by_me=False, generation=lease.generation)
    previous = lease.holder if lease.holder != me else None
    if previous is not None:
        lease.holder, lease.acquired_at, lease.generation = me, now, lease.generation + 1
    lease.renewed_at, lease.expires_at = now, now + ttl
    return LeaseState(holder=me, held_by_me=True, took_over_from=previous, generation=lease.generation)


async def renew(session: AsyncSession, name: str, me: str, *, ttl: timedelta, now: datetime) -> bool:
    """Extend a lease this instance holds; ``False`` when it no longer does (it lapsed and was taken)."""
    result = await session.execute(
        update(ConnectionLease)
        .where(ConnectionLease.name == name, ConnectionLease.holder == me)
        .values(renewed_at=now, expires_at=now + ttl)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def release(session: AsyncSession, name: str, me: str, *, now: datetime) -> None:
    """Let the lease lapse at once (a clean shutdown): another instance takes over at its next attempt."""
    await session.execute(
        update(ConnectionLease).where(ConnectionLease.name == name, ConnectionLease.holder == me).values(expires_at=now)
    )


async def holder_of(session: AsyncSession, name: str) -> ConnectionLease | None:
    return await session.scalar(select(ConnectionLease).where(ConnectionLease.name == name))
