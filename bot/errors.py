"""Errors reported to the operator as one clear sentence."""

from __future__ import annotations

from pathlib import Path


class CliError(Exception):
    """A failure to report to the operator as one clear sentence, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(Exception):
    """A configuration that cannot be used, described for the operator (no traceback)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"配置文件 {self.path} 有误，duban 未启动："]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)
