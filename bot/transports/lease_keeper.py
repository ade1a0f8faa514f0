"""Holding a database lease while a single-holder connection is open (a WeCom bot allows one live connection).

The holder renews every :data:`RENEW_SECONDS`; the lease lapses :data:`TTL` after the last renewal, so when
the holder dies (SIGKILL, power) a standby instance, polling every :data:`STANDBY_SECONDS`, takes over within
``TTL + STANDBY_SECONDS`` (≤ 25 s). A holder that cannot renew for longer than it can be sure of still
holding (a lost database, a paused process) gives the connection up before anyone else may take it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import timedelta

from storage.db import Database
from storage.leases import LeaseState, acquire, release, renew
from storage.models import utcnow

log = logging.getLogger(__name__)

TTL = timedelta(seconds=20)
RENEW_SECONDS = 5.0
STANDBY_SECONDS = 5.0
SAFETY_SECONDS = TTL.total_seconds() - 2 * RENEW_SECONDS  # give up before the lease could have lapsed


class LeaseKeeper:
    def __init__(self, db: Database, name: str, me: str) -> None:
        self.db = db
        self.name = name
        self.me = me
        self.lost = asyncio.Event()

    async def try_acquire(self) -> LeaseState:
        try:
            async with self.db.transaction() as session:
                return await acquire(session, self.name, self.me, ttl=TTL, now=utcnow())
        except Exception as exc:  # the database is away: stand by, try again
            log.warning("lease %s: cannot reach the database (%s)", self.name, type(exc).__name__)
            return LeaseState(holder="", held_by_me=False)

    async def keep(self) -> None:
        """Renew until the lease is lost (set :attr:`lost`) or the task is cancelled."""
        self.lost.clear()
        confirmed = time.monotonic()
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                async with self.db.transaction() as session:
                    still = await renew(session, self.name, self.me, ttl=TTL, now=utcnow())
            except Exception as exc:
                log.warning("lease %s: renewal failed (%s)", self.name, type(exc).__name__)
                still = time.monotonic() - confirmed < SAFETY_SECONDS
            else:
                confirmed = time.monotonic() if still else confirmed
            if not still:
                log.error("lease %s: no longer held by this instance; closing the connection", self.name)
                self.lost.set()
                return

    async def release(self) -> None:
        try:
            async with self.db.transaction() as session:
                await release(session, self.name, self.me, now=utcnow())
        except Exception as exc:
            log.warning("lease %s: could not release (%s); it lapses on its own", self.name, type(exc).__name__)


def standby_pause() -> float:
    return STANDBY_SECONDS * random.uniform(0.8, 1.0)
