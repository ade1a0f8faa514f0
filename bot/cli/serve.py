"""``duban serve``: run the service until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

from bot.app import SchemaOutOfDate, check_schema
from bot.cli.base import CliError, SubParsers, open_database, settings_of
from bot.logs import configure_logging
from bot.service import build_app


def register(sub: SubParsers) -> None:
    serve = sub.add_parser("serve", help="启动服务")
    serve.add_argument("--host", help="监听地址（默认取配置 [server] host）")
    serve.add_argument("--port", type=int, help="监听端口（默认取配置 [server] port）")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    configure_logging(verbose=args.verbose, secrets=settings.secret_values())

    async def preflight() -> None:
        async with open_database(settings) as db:
            await check_schema(db)

    try:
        asyncio.run(preflight())
    except SchemaOutOfDate as exc:
        raise CliError(str(exc), code=3) from None
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    web.run_app(build_app(settings), host=host, port=port, print=None, shutdown_timeout=15)
    return 0
