"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from bot.app import SchemaOutOfDate, check_schema
from bot.config import Settings, load_settings
from bot.errors import CliError as CliError  # re-exported for the sub-commands
from storage.db import Database

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # what ``add_subparsers`` returns
else:
    SubParsers = argparse._SubParsersAction


def display_url(url: str) -> str:
    """A database URL fit to print: the password, if any, masked."""
    return make_url(url).render_as_string(hide_password=True)


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        yield db
    finally:
        await db.close()


SCHEMA_OUT_OF_DATE = 3  # exit code of every command that finds the schema behind the code
SCHEMA_ADVICE = "数据库结构不是当前版本（或尚未初始化）：请先运行 `duban db upgrade`（新安装可运行 `duban init`）。"


async def open_checked(settings: Settings) -> Database:
    """The database, once its schema is known to be current; the caller closes it."""
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
