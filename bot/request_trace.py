"""Request ids: every log line written while a request is served names it (``trace=…``).

The caller's ``X-Request-Id`` (cut to 64 characters) or a fresh id: a random tag per process and a counter,
rather than fresh random bytes (a system call) per request. Set where requests are served — the platform
endpoints' guard (:func:`bot.inbound.edge.guarded`) and the console's middleware — and not by a middleware on the
whole application, which cost the inbound edge about a tenth of its throughput (measured with ``bench.inbound``).
"""

from __future__ import annotations

import itertools
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.logs import trace_id

_INSTANCE_TAG = secrets.token_hex(3)
_requests = itertools.count(1)


def request_id(request: web.Request) -> str:
    return request.headers.get("X-Request-Id", "")[:64] or f"req-{_INSTANCE_TAG}-{next(_requests):x}"


@web.middleware
async def trace_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Carry the request's id through every log line written while it is served."""
    token = trace_id.set(request_id(request))
    try:
        return await handler(request)
    finally:
        trace_id.reset(token)
