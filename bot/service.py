"""The assembled service: the application shell with every channel and worker duban runs."""

from __future__ import annotations

from aiohttp import web

from bot.app import create_app
from bot.config import Settings


def build_app(settings: Settings) -> web.Application:
    return create_app(settings)
