"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

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
