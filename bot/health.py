"""``GET /healthz``: is this instance fit to take traffic?"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from sqlalchemy import text

from bot.appkeys import CONTEXT, WORKERS


def duban_version() -> str:
    try:
        return version("duban")
    except PackageNotFoundError:
        return "unknown"


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    workers = request.app[WORKERS]
    checks: dict[str, object] = {}
    healthy = True
    try:
        async with ctx.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": ctx.db.dialect}
    except Exception as exc:  # any failure to reach the database makes the instance unfit
        healthy = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    running = {name: workers.running(name) for name in workers.tasks}
    checks["workers"] = running
    if not all(running.values()):
        healthy = False
    body = {
        "status": "ok" if healthy else "unhealthy",
        "version": duban_version(),
        "instance": ctx.instance_id,
        "checks": checks,
    }
    return web.json_response(body, status=200 if healthy else 503)
