"""``python -m bench.cli``: how long a clerk waits for ``duban`` before it answers.

In a fresh directory it runs ``duban init --demo`` once, then times, ``--repeat`` times each and interleaved (so
a burst of load on a shared machine hits every command alike):

- ``python -c pass`` — the floor: the interpreter itself;
- ``duban --help``;
- ``duban status`` on the demo data (SQLite);
- ``duban say --as 张明远 帮助`` against a running ``duban serve`` (the round trip: the command starts, posts
  to the service's sandbox, waits until the service has handled the message and sent the answer, prints it).

Targets: ``--help`` and ``status`` within 0.3 s of the floor; ``say`` under 0.5 s. Medians are judged; the
CPU time of each command (user + system, which load on other cores inflates less than wall time) is printed
beside it.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OVER_FLOOR_TARGET = 0.3
SAY_TARGET = 0.5


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Sequence[str], cwd: Path, env: dict[str, str], timings: Timings) -> None:
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    timings.wall.append(time.perf_counter() - start)
    timings.cpu.append(_children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        try:
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("duban serve did not become healthy within a minute")


def line(name: str, timings: Timings, verdict: str) -> str:
    cpu = statistics.median(timings.cpu)
    spread = f"{min(timings.wall):.3f}–{max(timings.wall):.3f}"
    return f"  {name:<22} median {timings.median:.3f} s  (runs {spread} s, CPU {cpu:.3f} s)  {verdict}"


def run(repeat: int) -> int:
    duban = str(Path(sys.executable).with_name("duban"))
    with tempfile.TemporaryDirectory(prefix="duban-bench-cli-") as folder:
        cwd = Path(folder)
        port = free_port()
        env = {**os.environ, "DUBAN_SERVER__PORT": str(port)}
        env.pop("DUBAN_CONFIG", None)
        subprocess.run([duban, "init", "--demo"], cwd=cwd, env=env, capture_output=True, check=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "duban --help": [duban, "--help"],
            "duban status": [duban, "status"],
        }
        results = {name: Timings() for name in [*commands, "duban say (round trip)"]}
        for _ in range(repeat):
            for name, command in commands.items():
                timed(command, cwd, env, results[name])
        server = subprocess.Popen(
            [duban, "serve"], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_healthy(port)
            say = [duban, "say", "--as", "张明远", "帮助"]
            timed(say, cwd, env, Timings())  # the service's first answer warms its templates
            for _ in range(repeat):
                timed(say, cwd, env, results["duban say (round trip)"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    floor = results["python -c pass"].median
    print(f"duban CLI start-up, {repeat} runs each, median (shared machine: compare within this run)")
    print(line("python -c pass", results["python -c pass"], "(floor)"))
    missed = False
    for name in ("duban --help", "duban status"):
        over = results[name].median - floor
        met = over <= OVER_FLOOR_TARGET
        missed |= not met
        print(line(name, results[name], f"floor + {over:.3f} s: {'met' if met else 'MISSED'} (≤ +0.3 s)"))
    say_median = results["duban say (round trip)"].median
    missed |= say_median >= SAY_TARGET
    verdict = f"{'met' if say_median < SAY_TARGET else 'MISSED'} (< 0.5 s)"
    print(line("duban say (round trip)", results["duban say (round trip)"], verdict))
    return 1 if missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (default 7)")
    args = parser.parse_args(argv)
    return run(max(args.repeat, 1))


if __name__ == "__main__":
    sys.exit(main())
