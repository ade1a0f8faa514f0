"""Jinja2 message templates: the packaged ones in ``schedules/templates``, each overridable by a file of the same
name in the directory ``[schedules] templates_dir`` names.

A template sets its title with ``{% set title = … %}``; what it renders is the body, in duban's light markdown.
Everything a person wrote reaches a template through the ``quote`` filter (or already quoted by the code); names
from the roster are quoted too (the ``names`` filter quotes each), so no name can carry markup or a mention.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from schedules.dates import day_label, moment_label, span_label
from storage.outbound import quote

_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def _percent(value: float) -> str:
    """0.8333 → 83.3%."""
    return f"{value * 100:.1f}%"


class Templates:
    """Renders the job messages for one office (its zone and optional override directory)."""

    def __init__(self, tz: ZoneInfo, override_dir: Path | None = None) -> None:
        self.tz = tz
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(override_dir)))
        loaders.append(jinja2.PackageLoader("schedules", "templates"))
        # Markdown, not HTML: autoescaping would corrupt it; people's words pass through ``quote`` instead.
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # noqa: S701
        )
        self.env.filters.update(
            day=self._day,
            md=self._month_day,
            moment=self._moment,
            deadline=self._deadline,
            span=span_label,
            percent=_percent,
            quote=quote,
            names=lambda items: "、".join(quote(str(item)) for item in items),
        )

    def _day(self, value: date | datetime, year: bool = False) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return day_label(value, year=year)

    def _month_day(self, value: date | datetime) -> str:
        """11月16日 (no weekday: for titles)."""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return f"{value.month}月{value.day}日"

    def _moment(self, value: datetime, year: bool = False) -> str:
        return moment_label(value, self.tz, year=year)

    def _deadline(self, value: datetime) -> str:
        """A deadline as offices write it: 11月25日（周三）24时 for the end of the day, else with the time."""
        local = value.astimezone(self.tz)
        if (local.hour, local.minute) == (23, 59):
            return f"{day_label(local.date())}24时"
        return moment_label(value, self.tz)

    def render(self, name: str, **context: Any) -> Rendered:
        template = self.env.get_template(f"{name}.j2")
        module = template.make_module(context)
        body = _BLANK_RUNS.sub("\n\n", str(module)).strip()
        body = "\n".join(line.rstrip() for line in body.splitlines())
        title = str(getattr(module, "title", "")).strip()
        return Rendered(title=title, body=body)


@functools.lru_cache(maxsize=16)
def templates_for(tz: ZoneInfo, override_dir: Path | None) -> Templates:
    """One :class:`Templates` per zone and directory (building a Jinja2 environment is not free)."""
    return Templates(tz, override_dir)
