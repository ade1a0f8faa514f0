"""Fake WeCom / DingTalk / Feishu servers on loopback: they check signatures and keywords, enforce the
documented rate limits with the real errcodes, record what they received, and can be told to fail, stall
or answer slowly. Used by the tests (fixture ``fake_platforms`` in ``tests.fakes.plugin``) and by
``bench/`` (``python -m tests.fakes`` runs them standalone).
"""

from tests.fakes.behaviour import Exchange, Pass, RandomFaults, Reply, Reset, Slow, Stall
from tests.fakes.server import FakePlatforms

__all__ = ["Exchange", "FakePlatforms", "Pass", "RandomFaults", "Reply", "Reset", "Slow", "Stall"]
