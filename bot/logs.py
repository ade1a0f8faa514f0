"""Structured logs: one line per event, ``key=value`` pairs, a request/message id carried through.

Secrets from the configuration are masked wherever they would appear, as a last line of defence: code
must still never log tokens, keys or report bodies.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar

trace_id: ContextVar[str] = ContextVar("duban_trace_id", default="-")


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace = trace_id.get()
        return True


# Console sign-in links and session cookies are credentials too, whatever logs them (an access log, an error).
_CONSOLE_CREDENTIALS = re.compile(r"(/console/login/|duban_console=)[A-Za-z0-9_\-]+")


def mask_console_credentials(text: str) -> str:
    return _CONSOLE_CREDENTIALS.sub(r"\1***", text)


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = mask_console_credentials(message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s trace=%(trace)s msg=%(message)s"


def configure_logging(*, verbose: bool = False, secrets: Iterable[str] = ()) -> None:
    """Log to stderr in the structured format; idempotent (tests and the CLI may call it again)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_TraceFilter())
    handler.addFilter(_RedactFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "duban", False):
            root.removeHandler(existing)
    handler.duban = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Libraries whose debug output would carry SQL parameters (what people wrote) or request details.
    for noisy in ("aiohttp.access", "sqlalchemy.engine", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
