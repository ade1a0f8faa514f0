"""Where the configuration is, and where a running service listens by it: read without validating the whole.

Validating the configuration (:mod:`bot.config`) costs a quarter of a second of pydantic and its models, as much as
the rest of a ``duban say`` round trip; handing a message to a running service needs only its address, and the
service validated the same file when it started. :func:`service_address` follows exactly the keys ``[server] host``
and ``port``, with the environment's ``DUBAN_SERVER__HOST`` / ``DUBAN_SERVER__PORT`` (any case) or ``DUBAN_SERVER``
(a JSON table, the separate keys over it) over the file, as :func:`bot.config.load_settings` reads them; on anything
it does not follow (a file that is not TOML, a port that is not a number within range…) it answers ``None`` and the
caller loads the settings, which name the problem. ``tests/test_config.py`` holds both readings equal.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("duban.toml")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_PORT = 65535
SERVER_KEYS = frozenset({"host", "port", "max_body_bytes"})  # ``bot.config.ServerConfig``'s; any other is refused


def resolve_config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("DUBAN_CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def _server_from_environment() -> dict[str, Any] | None:
    """``DUBAN_SERVER`` (JSON) with ``DUBAN_SERVER__HOST`` / ``__PORT`` over it; ``None`` for what is not followed."""
    table: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for variable, value in os.environ.items():
        name = variable.lower()
        if name == "duban_server":
            try:
                decoded = json.loads(value)
            except ValueError:
                return None
            if not isinstance(decoded, dict):
                return None
            table = decoded
        elif name.startswith("duban_server__"):
            keys[name.removeprefix("duban_server__")] = value
    return {**table, **keys}


def _port(value: Any) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PORT:
        return None
    return value


def service_address(explicit: str | Path | None = None) -> tuple[str, int] | None:
    """``[server] host`` and ``port`` as :func:`bot.config.load_settings` gives them, or ``None`` (see above)."""
    path = resolve_config_path(explicit)
    server: Any = {}
    if path.exists():
        try:
            with path.open("rb") as handle:
                server = tomllib.load(handle).get("server", {})
        except (tomllib.TOMLDecodeError, OSError):
            return None
    elif explicit or "DUBAN_CONFIG" in os.environ:
        return None  # a configuration named but absent: load_settings says so
    overrides = _server_from_environment()
    if not isinstance(server, dict) or overrides is None or not SERVER_KEYS.issuperset({*server, *overrides}):
        return None
    server = {**server, **overrides}
    host, port = server.get("host", DEFAULT_HOST), _port(server.get("port", DEFAULT_PORT))
    if not isinstance(host, str) or port is None:
        return None
    return host, port
