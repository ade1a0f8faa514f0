"""``python -m tests.fakes [--port 8900] [--latency 0.05] [--faults 0.3 --fault-seed 7 --spare KEY]``: run the
fake platforms until interrupted.

Robots, bots and members are accepted under any key (``auto_register``), so a benchmark or a manual trial
can point any number of groups at this server. ``GET /_fake/stats`` tells what arrived. ``--faults RATE``
fails that share of requests at random (5xx, rate-limit errcodes, refusals, stalls, resets, slow answers),
except to the ``--spare`` targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tests.fakes.behaviour import RandomFaults
from tests.fakes.server import FakePlatforms


async def serve(port: int, latency: float, faults: RandomFaults | None = None) -> None:
    fakes = FakePlatforms(latency=latency, auto_register=True, faults=faults)
    url = await fakes.start(port=port)
    failing = f", failing {faults.rate:.0%} at random (seed {faults.seed})" if faults else ""
    print(f"fake platforms at {url} (latency {latency * 1000:.0f} ms{failing}); Ctrl-C to stop", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fakes.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description="fake WeCom/DingTalk/Feishu servers")
    parser.add_argument("--port", type=int, default=8900, help="0: any free port (printed on start)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--faults", type=float, default=0.0, metavar="RATE", help="share of requests to fail (0-1)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument("--spare", action="append", default=[], metavar="TARGET", help="never fail this target")
    args = parser.parse_args()
    faults = RandomFaults(args.faults, seed=args.fault_seed, spare=frozenset(args.spare)) if args.faults else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.latency, faults))


if __name__ == "__main__":
    main()
