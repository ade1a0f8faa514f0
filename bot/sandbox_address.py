"""Where the sandbox endpoints live, who may reach them, and which groups one may speak in: shared by the
endpoints and ``duban say``.

Apart from :mod:`bot.inbound.sandbox` so that ``duban say`` finds a running service without loading the
inbound edge (aiohttp's server, every platform adapter).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

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
