"""``duban`` answers at once: building the parser (all that ``duban --help`` does) loads none of the heavy
libraries; each command loads what it needs when it runs. Speed itself is measured by ``python -m bench.cli``."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "pydantic", "aiohttp", "alembic", "openpyxl", "jinja2", "matplotlib", "docx", "wechatpy")


def test_the_parser_loads_no_heavy_library() -> None:
    script = (
        "import json, sys\n"
        "from bot.cli import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "serve", "roster", "say", "status", "export", "items", "jobs", "backup", "outbox", "doc"):
        assert command in done.stdout
