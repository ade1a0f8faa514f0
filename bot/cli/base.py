"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.config import Settings, load_settings
from storage.db import Database

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # what ``add_subparsers`` returns
else:
    SubParsers = argparse._SubParsersAction


class CliError(Exception):
    """A failure to report to the operator as one clear sentence, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        yield db
    finally:
        await db.close()
