"""``duban serve``: run the service until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging

from bot.cli.base import CliError, SubParsers, open_database, run_async, settings_of
from bot.logs import configure_logging

log = logging.getLogger(__name__)


def register(sub: SubParsers) -> None:
    serve = sub.add_parser("serve", help="启动服务")
    serve.add_argument("--host", help="监听地址（默认取配置 [server] host）")
    serve.add_argument("--port", type=int, help="监听端口（默认取配置 [server] port）")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.config_files import resolve_config_path
    from bot.sandbox_address import forget_serving, note_serving
    from bot.service import build_app
    from storage.migrate import SchemaOutOfDate, check_schema

    settings = settings_of(args)
    server = settings.server.model_copy(
        update={key: value for key, value in (("host", args.host), ("port", args.port)) if value}
    )
    settings = settings.model_copy(update={"server": server})
    configure_logging(verbose=args.verbose, secrets=settings.secret_values())

    async def preflight() -> None:
        async with open_database(settings) as db:
            await check_schema(db)

    try:
        run_async(preflight())
    except SchemaOutOfDate as exc:
        raise CliError(str(exc), code=3) from None
    log.info("listening on %s:%d", server.host, server.port)
    config = resolve_config_path(args.config)
    note_serving(config, server.host, server.port)
    try:
        web.run_app(build_app(settings), host=server.host, port=server.port, print=None, shutdown_timeout=15)
    finally:
        forget_serving(config)
    return 0
