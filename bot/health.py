"""``GET /healthz``: is this instance fit to take traffic?

Unhealthy (503) when the database cannot be reached, a background worker of this instance has stopped, or
work has waited longer than ``[health]`` allows: the dispatcher's lag (the oldest *due* pending outbox row)
or the oldest pending inbox row. The waiting work is database-wide, so every instance reports it alike.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from sqlalchemy import text

from bot.appkeys import CONTEXT, WORKERS
from storage.db import Database
from storage.models import utcnow
from storage.queue_stats import QueueAges, queue_ages

DATABASE_TIMEOUT_SECONDS = 3.0


def duban_version() -> str:
    try:
        return version("duban")
    except PackageNotFoundError:
        return "unknown"


async def _probe(db: Database) -> QueueAges:
    async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), db.sessions() as session:
        await session.execute(text("SELECT 1"))
        return await queue_ages(session, now=utcnow())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _within(seconds: float, limit: float) -> bool:
    return limit == 0 or seconds <= limit


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    workers = request.app[WORKERS]
    limits = ctx.settings.health
    checks: dict[str, object] = {}
    healthy = True
    try:
        ages = await _probe(ctx.db)
        checks["database"] = {"ok": True, "dialect": ctx.db.dialect}
    except Exception as exc:  # any failure to reach the database makes the instance unfit
        ages = None
        healthy = False
        checks["database"] = {"ok": False, "dialect": ctx.db.dialect, "error": type(exc).__name__}
    running = {name: workers.running(name) for name in workers.tasks}
    checks["workers"] = running
    if not all(running.values()):
        healthy = False
    if ages is not None:
        outbox_ok = _within(ages.outbox_lag_seconds, limits.max_outbox_lag_seconds)
        inbox_ok = _within(ages.inbox_age_seconds, limits.max_inbox_age_seconds)
        healthy = healthy and outbox_ok and inbox_ok
        checks["outbox"] = {
            "ok": outbox_ok,
            "lag_seconds": round(ages.outbox_lag_seconds, 1),
            "due": ages.outbox_due,
            "oldest_due_at": _iso(ages.outbox_oldest_due_at),
            "limit_seconds": limits.max_outbox_lag_seconds,
        }
        checks["inbox"] = {
            "ok": inbox_ok,
            "oldest_pending_seconds": round(ages.inbox_age_seconds, 1),
            "pending": ages.inbox_pending,
            "oldest_pending_at": _iso(ages.inbox_oldest_pending_at),
            "limit_seconds": limits.max_inbox_age_seconds,
        }
    body = {
        "status": "ok" if healthy else "unhealthy",
        "version": duban_version(),
        "instance": ctx.instance_id,
        "checks": checks,
    }
    return web.json_response(body, status=200 if healthy else 503)
