"""The aiohttp application: orderly start-up (database, schema check, workers) and shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiohttp import web

from bot import health, metrics
from bot.appkeys import CONTEXT, WORKERS
from bot.config import Settings
from bot.console import mount_console
from bot.context import AppContext
from bot.lifecycle import Worker, Workers
from storage.db import Database
from storage.migrate import SchemaOutOfDate as SchemaOutOfDate  # re-exported: the service checks at start
from storage.migrate import check_schema as check_schema
from storage.sync import sync_groups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    """An inbound endpoint: its routes are mounted only when its credentials are configured."""

    name: str
    enabled: bool
    routes: Sequence[web.RouteDef]
    off_reason: str = ""


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    workers: Sequence[tuple[str, Worker]] = (),
    channels: Sequence[Channel] = (),
) -> web.Application:
    """Build the application; the database is opened (or the given one used) when it starts."""
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    owns_db = db is None

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        database = db or Database(settings.database.url, echo=settings.database.echo)
        try:
            await check_schema(database)
            ctx = AppContext(settings=settings, db=database)
            await sync_groups(database, settings.groups)
            app[CONTEXT] = ctx
            running = Workers(ctx)
            app[WORKERS] = running
            for name, worker in workers:
                running.start(name, worker)
            log.info("duban started as %s", ctx.instance_id)
            if settings.console_url:
                log.info("console on at %s", settings.console_url)
            else:
                log.info("console is off ([console] enabled = false)")
            yield
            await running.stop()
        finally:
            if owns_db:
                await database.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", metrics.metrics)
    if settings.console.enabled:
        mount_console(app, settings)
    for channel in channels:
        if channel.enabled:
            app.router.add_routes(channel.routes)
            log.info("channel %s is on", channel.name)
        else:
            log.info("channel %s is off: %s", channel.name, channel.off_reason)
    return app
