"""Where the sandbox endpoint lives and who may reach it: shared by the endpoint and ``duban say``.

Apart from :mod:`bot.inbound.sandbox` so that ``duban say`` finds a running service without loading the
inbound edge (aiohttp's server, every platform adapter).
"""

from __future__ import annotations

import ipaddress

PATH = "/sandbox/messages"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
