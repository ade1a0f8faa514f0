"""The office's web console under ``/console/``: server-rendered pages on the same aiohttp service.

One module per page group (sign-in, overview and matrix, rounds, units, items, outbox, roster, documents, jobs,
audit); what they share — templates, the signed-in viewer, CSRF, security headers — is in
:mod:`bot.console.web`. Every action goes through the same rules as chat and the command line
(:mod:`handlers.services`).
"""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings
from bot.console import audit, auth, documents, files, gongwen, items, jobs, outbox, overview, roster, rounds, units
from bot.console.base import HERE, TEMPLATES, environment, headers, signed_in
from bot.request_trace import trace_requests

PAGES = (auth, overview, rounds, units, files, items, outbox, roster, documents, gongwen, jobs, audit)
UPLOAD_OVERHEAD = 2  # a confirmed roster comes back base64-encoded in a form, with the form around it


def console_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.console.max_upload_bytes * UPLOAD_OVERHEAD,
        middlewares=[trace_requests, headers, signed_in],
    )
    app[TEMPLATES] = environment()
    for page in PAGES:
        app.add_routes(page.routes)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


async def _to_console(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/console/")


def mount_console(app: web.Application, settings: Settings) -> None:
    app.add_subapp("/console/", console_app(settings))
    app.router.add_get("/console", _to_console)
