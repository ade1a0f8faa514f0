"""``GET /healthz``: is this instance fit to take traffic?

Unhealthy (503) when the database cannot be reached, a background worker of this instance has stopped, or
work has waited longer than ``[health]`` allows: the dispatcher's lag (the oldest *due* pending outbox row)
or the oldest pending inbox row. The waiting work is database-wide, so every instance reports it alike.

Degraded (still 200, ``"status": "degraded"``) when a request to a platform failed within the last
:data:`FAILURE_WINDOW` (``checks.outbox.failed_recent``, by errcode): a platform that refuses or does not
answer is not this instance's fault, every instance would report the same, and answering 503 would take
them all out of the load balancer — so that callbacks, which do not depend on the platform's send API,
would be lost too. Failing sends are for a person to look at (the office is told of each failed row);
``/metrics`` carries the same figures for alerting.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from sqlalchemy import text

from bot.appkeys import CONTEXT, LINKS, WORKERS
from storage.db import Database
from storage.models import utcnow
from storage.queue_stats import QueueAges, SendFailure, queue_ages, recent_send_failures

DATABASE_TIMEOUT_SECONDS = 3.0
FAILURE_WINDOW = timedelta(minutes=10)


def duban_version() -> str:
    try:
        return version("duban")
    except PackageNotFoundError:
        return "unknown"


async def _probe(db: Database) -> tuple[QueueAges, list[SendFailure]]:
    async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), db.sessions() as session:
        await session.execute(text("SELECT 1"))
        now = utcnow()
        return await queue_ages(session, now=now), await recent_send_failures(session, since=now - FAILURE_WINDOW)


def by_errcode(failures: list[SendFailure]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for failure in failures:
        counts[failure.label] = counts.get(failure.label, 0) + failure.count
    return dict(sorted(counts.items()))


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
    failed: dict[str, int] = {}
    try:
        ages, failures = await _probe(ctx.db)
        failed = by_errcode(failures)
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
            "failed_recent": sum(failed.values()),
            "failed_recent_by_errcode": failed,
            "failure_window_seconds": int(FAILURE_WINDOW.total_seconds()),
        }
        checks["inbox"] = {
            "ok": inbox_ok,
            "oldest_pending_seconds": round(ages.inbox_age_seconds, 1),
            "pending": ages.inbox_pending,
            "oldest_pending_at": _iso(ages.inbox_oldest_pending_at),
            "limit_seconds": limits.max_inbox_age_seconds,
        }
    links = request.app.get(LINKS)
    if links is not None and links.links:
        checks["connections"] = links.as_dict()
    status = "unhealthy" if not healthy else "degraded" if failed else "ok"
    body = {
        "status": status,
        "version": duban_version(),
        "instance": ctx.instance_id,
        "checks": checks,
    }
    return web.json_response(body, status=200 if healthy else 503)
