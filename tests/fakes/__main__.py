"""``python -m tests.fakes [--port 8900] [--latency 0.05]``: run the fake platforms until interrupted.

Robots, bots and members are accepted under any key (``auto_register``), so a benchmark or a manual trial
can point any number of groups at this server. ``GET /_fake/stats`` tells what arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tests.fakes.server import FakePlatforms


async def serve(port: int, latency: float) -> None:
    fakes = FakePlatforms(latency=latency, auto_register=True)
    url = await fakes.start(port=port)
    print(f"fake platforms at {url} (latency {latency * 1000:.0f} ms); Ctrl-C to stop", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fakes.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description="fake WeCom/DingTalk/Feishu servers")
    parser.add_argument("--port", type=int, default=8900, help="0: any free port (printed on start)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
