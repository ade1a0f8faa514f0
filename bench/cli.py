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
beside it, and each median as a multiple of the floor's.

The service's port is written into the demo's ``duban.toml``, as an office would set it. A ``DUBAN_…`` variable
in the environment makes the configuration load pydantic-settings' environment source (about 0.1 s more);
``duban status`` with one set is timed too and shown for information.
"""

from __future__ import annotations

import argparse
import os
import re
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


def listen_on(config: Path, port: int) -> None:
    """Set ``[server] port`` in the demo's configuration (``port = 8080`` as ``duban init`` writes it)."""
    text, count = re.subn(r"(?m)^port = \d+$", f"port = {port}", config.read_text(encoding="utf-8"), count=1)
    if count != 1:
        raise SystemExit(f"no [server] port line in {config}")
    config.write_text(text, encoding="utf-8")


STATUS_WITH_ENV = "duban status, DUBAN_ set"


def run(repeat: int) -> int:
    duban = str(Path(sys.executable).with_name("duban"))
    with tempfile.TemporaryDirectory(prefix="duban-bench-cli-") as folder:
        cwd = Path(folder)
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("DUBAN_")}
        subprocess.run([duban, "init", "--demo"], cwd=cwd, env=env, capture_output=True, check=True)
        listen_on(cwd / "duban.toml", port)
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "duban --help": ([duban, "--help"], env),
            "duban status": ([duban, "status"], env),
            STATUS_WITH_ENV: ([duban, "status"], {**env, "DUBAN_SERVER__PORT": str(port)}),
        }
        results = {name: Timings() for name in [*commands, "duban say (round trip)"]}
        for _ in range(repeat):
            for name, (command, command_env) in commands.items():
                timed(command, cwd, command_env, results[name])
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
    for name in ("duban --help", "duban status", STATUS_WITH_ENV):
        over = results[name].median - floor
        met = over <= OVER_FLOOR_TARGET
        ratio = results[name].median / floor
        if name == STATUS_WITH_ENV:
            verdict = f"floor + {over:.3f} s ({ratio:.1f}× floor; for information)"
        else:
            missed |= not met
            verdict = f"floor + {over:.3f} s ({ratio:.1f}× floor): {'met' if met else 'MISSED'} (≤ +0.3 s)"
        print(line(name, results[name], verdict))
    say_median = results["duban say (round trip)"].median
    missed |= say_median >= SAY_TARGET
    verdict = f"{say_median / SAY_TARGET:.2f} of the target: {'met' if say_median < SAY_TARGET else 'MISSED'} (< 0.5 s)"
    print(line("duban say (round trip)", results["duban say (round trip)"], verdict))
    return 1 if missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (default 7)")
    args = parser.parse_args(argv)
    return run(max(args.repeat, 1))


if __name__ == "__main__":
    sys.exit(main())
