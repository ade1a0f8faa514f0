"""A real forward proxy for the tests: Debian's tinyproxy, started on loopback with its own config and log.

Its log names every request it forwarded (``Request (file descriptor N): POST http://… HTTP/1.1``, or
``CONNECT host:port`` for a tunnel), which is how a test proves a request went through it.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Proxy:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def requests(self) -> list[str]:
        """The request lines the proxy forwarded (``POST http://… HTTP/1.1``, ``CONNECT host:port HTTP/1.1``)."""
        return [line.split("): ", 1)[1] for line in self.log().splitlines() if "]: Request (file descriptor" in line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _configure(workdir: Path) -> tuple[int, Path, Path]:
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "tinyproxy.log"
    config = workdir / "tinyproxy.conf"
    # No ConnectPort lines: CONNECT tunnels to any port (the fakes listen on random loopback ports).
    config.write_text(
        f'Port {port}\nListen {HOST}\nTimeout 60\nLogFile "{log_path}"\nLogLevel Connect\n'
        f"MaxClients 100\nAllow {HOST}\nDisableViaHeader Yes\n",
        encoding="utf-8",
    )
    return port, log_path, config


@asynccontextmanager
async def tinyproxy(workdir: Path) -> AsyncIterator[Proxy]:
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.skip(
            "tinyproxy is not installed (deploy/system-packages.txt lists it; run deploy/install-system-packages)"
        )
    port, log_path, config = _configure(workdir)
    process = await asyncio.create_subprocess_exec(
        binary, "-d", "-c", str(config), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                _reader, writer = await asyncio.open_connection(HOST, port)
                writer.close()
                break
            except OSError:
                if process.returncode is not None or time.monotonic() > deadline:
                    raise AssertionError(f"tinyproxy did not start (see {log_path})") from None
                await asyncio.sleep(0.05)
        yield Proxy(f"http://{HOST}:{port}", log_path)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
