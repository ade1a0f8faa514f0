"""Where the sandbox endpoints live, who may reach them, and which groups one may speak in: shared by the
endpoints and ``duban say``.

Apart from :mod:`bot.inbound.sandbox` so that ``duban say`` finds a running service without loading the
inbound edge (aiohttp's server, every platform adapter).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Collection
from pathlib import Path

PATH = "/sandbox/messages"  # a message from a roster person given by id, stored as a platform's would be
SAY_PATH = "/sandbox/say"  # ``duban say``: a person named loosely; answered with what the bot said


def unconfigured_group(group: str | None, configured: Collection[str]) -> str | None:
    """Why one cannot speak in ``group`` (not among the configured groups), or ``None`` when one can."""
    if group is None or group in configured:
        return None
    names = "、".join(configured) or "（配置中没有群）"
    return f"配置中没有名为「{group}」的群。已配置的群：{names}"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


# Where a running ``duban serve`` notes the address it listens on, beside its configuration file: ``make run
# PORT=9000`` (or ``serve --port``) listens elsewhere than the configuration says, and ``duban say`` in another
# shell finds it there.
SERVING_FILE = ".duban-serving.json"


def serving_file(config: Path) -> Path:
    return config.parent / SERVING_FILE


def note_serving(config: Path, host: str, port: int) -> None:
    """Note this process's address for ``duban say`` (loopback only: the sandbox answers nobody else)."""
    if is_loopback(host):
        with contextlib.suppress(OSError):
            serving_file(config).write_text(
                json.dumps({"host": host, "port": port, "pid": os.getpid()}), encoding="utf-8"
            )


def forget_serving(config: Path) -> None:
    """Remove the note, if it is this process's."""
    if _noted(config).get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            serving_file(config).unlink()


def serving_address(config: Path) -> tuple[str, int] | None:
    """The address a live ``duban serve`` beside ``config`` noted; ``None`` without one (or its process gone)."""
    noted = _noted(config)
    host, port, pid = noted.get("host"), noted.get("port"), noted.get("pid")
    if not (isinstance(host, str) and is_loopback(host) and isinstance(port, int) and isinstance(pid, int)):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return host, port


def _noted(config: Path) -> dict[str, object]:
    try:
        noted = json.loads(serving_file(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return noted if isinstance(noted, dict) else {}
