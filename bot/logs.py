"""Structured logs: one line per event, ``key=value`` pairs, a request/message id carried through.

What a log line promises, and how it keeps it:

- **One event, one line.** The message and the exception are written as quoted strings (JSON escaping), so a
  newline or a quote inside what someone sent cannot start a line of its own or forge a ``key=value``.
- **No secrets.** Every secret of the configuration is masked in the whole line, the traceback included.
- **No one's words.** A traceback names the exception's type and where it was raised, never its message:
  an exception's text can carry a report a liaison wrote, a URL with a robot key, or bound SQL parameters.
  (Code must still never log tokens, keys or report bodies; this is the last line of defence.)
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from contextvars import ContextVar
from types import TracebackType

trace_id: ContextVar[str] = ContextVar("duban_trace_id", default="-")

# A value that needs no quotes: what ids and names are made of.
_BARE = re.compile(r"[\w.:@/+-]{1,128}")
# Frames of one exception shown at most (the innermost ones, where it was raised).
MAX_FRAMES = 12

# Console sign-in links and session cookies are credentials too, whatever logs them (an access log, an error).
_CONSOLE_CREDENTIALS = re.compile(r"(/console/login/|duban_console=)[A-Za-z0-9_\-]+")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def mask_console_credentials(text: str) -> str:
    return _CONSOLE_CREDENTIALS.sub(r"\1***", text)


def quoted(value: str) -> str:
    """``value`` as a log value: bare when it is a plain token, else a JSON string on one line."""
    if _BARE.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost cause first (as Python prints them)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain[::-1]


def _kind(error: BaseException) -> str:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(error, OSError) and error.errno is not None:  # an errno is a fixed vocabulary: safe and useful
        name += f"[errno {error.errno}]"
    return name


def describe_exception(exc_info: ExcInfo) -> str:
    """A traceback without any exception's message: types, and the frames each went through."""
    parts: list[str] = []
    for error in _chain(exc_info[1]):
        frames = traceback.extract_tb(error.__traceback__)[-MAX_FRAMES:]
        where = " < ".join(f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in reversed(frames))
        parts.append(f"{_kind(error)} (message withheld)" + (f" at {where}" if where else ""))
    return "Traceback: " + " | which caused ".join(parts)


class StructuredFormatter(logging.Formatter):
    """``time level=… logger=… trace=… msg="…"`` (+ ``exc="…"``), masked, on exactly one line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        text = mask_console_credentials(text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def format(self, record: logging.LogRecord) -> str:
        fields = [
            self.formatTime(record),
            f"level={record.levelname}",
            f"logger={quoted(record.name)}",
            f"trace={quoted(str(getattr(record, 'trace', trace_id.get())))}",
            f"msg={json.dumps(self.mask(record.getMessage()), ensure_ascii=False)}",
        ]
        if record.exc_info and record.exc_info[1] is not None:
            exc_info = record.exc_info
            assert exc_info[0] is not None
            fields.append(f"exc={json.dumps(self.mask(describe_exception(exc_info)), ensure_ascii=False)}")
        if record.stack_info:
            fields.append(f"stack={json.dumps(self.mask(record.stack_info), ensure_ascii=False)}")
        return " ".join(fields)


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace = trace_id.get()
        return True


def configure_logging(*, verbose: bool = False, secrets: Iterable[str] = ()) -> None:
    """Log to stderr in the structured format; idempotent (tests and the CLI may call it again)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(secrets))
    handler.addFilter(_TraceFilter())
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
