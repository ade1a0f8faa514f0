"""The demo: sandbox groups and an invented roster, so that a new user sees something real at once."""

from __future__ import annotations

from bot.config import Settings

DEMO_GROUPS_TOML = """
# ---- 演示用沙箱群（duban init --demo 生成）----
[[groups]]
name = "强省会工作机制群"
platform = "sandbox"

[[groups]]
name = "工作机制办公室"
platform = "sandbox"
office = true
"""


async def load_demo_roster(settings: Settings, *, only_if_empty: bool) -> bool:
    """Import the demo roster; ``False`` when a roster is already there and ``only_if_empty`` is set."""
    raise NotImplementedError  # completed with the roster import
