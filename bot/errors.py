"""Errors reported to the operator as one clear sentence."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report to the operator as one clear sentence, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
