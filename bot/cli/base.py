"""Helpers shared by the sub-commands.

Every ``duban`` command pays for what its modules import before it does anything, so the CLI modules import
only the standard library at the top and load SQLAlchemy, pydantic, aiohttp and the rest inside the command
that needs them: ``duban --help`` then costs little more than Python itself. Even :mod:`asyncio` (a twentieth of
a second, with :mod:`ssl`) is loaded only by the commands that run a coroutine (:func:`run_async`).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import CliError as CliError  # re-exported for the sub-commands

if TYPE_CHECKING:
    from bot.config import Settings
    from storage.db import Database

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # what ``add_subparsers`` returns
else:
    SubParsers = argparse._SubParsersAction


T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``, with :mod:`asyncio` imported only now."""
    import asyncio

    return asyncio.run(work)


def display_url(url: str) -> str:
    """A database URL fit to print: the password, if any, masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def settings_of(args: argparse.Namespace) -> Settings:
    from bot.config import load_settings

    return load_settings(args.config)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    from storage.db import Database

    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        yield db
    finally:
        await db.close()


SCHEMA_OUT_OF_DATE = 3  # exit code of every command that finds the schema behind the code
SCHEMA_ADVICE = "数据库结构不是当前版本（或尚未初始化）：请先运行 `duban db upgrade`（新安装可运行 `duban init`）。"


async def open_checked(settings: Settings) -> Database:
    """The database, once its schema is known to be current; the caller closes it."""
    from storage.db import Database
    from storage.migrate import SchemaOutOfDate, check_schema

    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        await check_schema(db)
    except SchemaOutOfDate:
        await db.close()
        raise CliError(SCHEMA_ADVICE, code=SCHEMA_OUT_OF_DATE) from None
    except BaseException:
        await db.close()
        raise
    return db


@asynccontextmanager
async def checked_database(settings: Settings) -> AsyncIterator[Database]:
    """:func:`open_checked` as a context manager that closes the database."""
    db = await open_checked(settings)
    try:
        yield db
    finally:
        await db.close()
