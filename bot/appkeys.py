"""Typed keys under which the application keeps its state."""

from aiohttp import web

from bot.context import AppContext
from bot.lifecycle import Workers
from bot.transports.status import LinkBoard

CONTEXT = web.AppKey("duban_context", AppContext)
WORKERS = web.AppKey("duban_workers", Workers)
LINKS = web.AppKey("duban_links", LinkBoard)
