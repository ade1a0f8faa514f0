"""duban's light markdown (``**bold**`` spans, ``- `` bullets, one paragraph per line), parsed once.

Every dialect renders the same :class:`Line` values. Only bold and bullets carry meaning; every other
character is literal and is made inert by :func:`inert` before it reaches a platform, so that body text
— including a template that interpolated something unexpected — can never open a mention, a link, an
HTML-like tag or a heading. (A lone ``_`` is left alone: it opens nothing by itself, and identifiers such as
``access_token`` in the office's notices stay readable; a person's words have ``_`` replaced by ``quote``.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_BULLET = "- "

_INERT = str.maketrans(
    {
        "@": "＠",
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "*": "＊",
        "`": "｀",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "\\": "＼",
    }
)
# Anywhere, not only at a word boundary: in 详见https://… the scheme follows a letter, and clients still link it.
_URL_SCHEME = re.compile(r"(?i)(https?|ftp|dingtalk|wxwork|weixin|javascript|data|mailto)(:)")
# Control characters, zero-width and invisible characters, and every bidi control (U+061C included).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def inert(text: str) -> str:
    """``text`` with nothing any platform would read as markup, a mention or a link (idempotent)."""
    cleaned = _CONTROL.sub("", text).translate(_INERT)
    return _URL_SCHEME.sub(lambda m: f"{m[1]}：", cleaned)


@dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Line:
    """One paragraph: spans of plain or bold text, possibly a bullet item."""

    spans: tuple[Span, ...] = ()
    bullet: bool = False

    @property
    def text(self) -> str:
        """The visible characters (no bullet marker, no bold markers)."""
        return "".join(span.text for span in self.spans)

    def __len__(self) -> int:
        return sum(len(span.text) for span in self.spans)

    def cut(self, count: int) -> tuple[Line, Line]:
        """The first ``count`` visible characters and the rest (the rest is a continuation, not a bullet)."""
        head: list[Span] = []
        tail: list[Span] = []
        remaining = count
        for span in self.spans:
            if remaining >= len(span.text):
                head.append(span)
                remaining -= len(span.text)
            elif remaining > 0:
                head.append(Span(span.text[:remaining], span.bold))
                tail.append(Span(span.text[remaining:], span.bold))
                remaining = 0
            else:
                tail.append(span)
        return Line(tuple(head), self.bullet), Line(tuple(tail))


def parse_line(raw: str) -> Line:
    bullet = raw.startswith(_BULLET)
    content = raw[len(_BULLET) :] if bullet else raw
    spans: list[Span] = []
    position = 0
    for match in _BOLD.finditer(content):
        if match.start() > position:
            spans.append(Span(content[position : match.start()]))
        spans.append(Span(match[1], bold=True))
        position = match.end()
    if position < len(content):
        spans.append(Span(content[position:]))
    return Line(tuple(spans), bullet)


def parse(body: str) -> list[Line]:
    """The body's paragraphs (trailing blank lines dropped; a CR LF is a line break)."""
    raw_lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    return [parse_line(raw) for raw in raw_lines]


def as_markdown(line: Line) -> str:
    """The line in the common markdown subset (WeCom, DingTalk), every literal character inert."""
    parts = [f"**{inert(span.text)}**" if span.bold and span.text.strip() else inert(span.text) for span in line.spans]
    return (_BULLET if line.bullet else "") + "".join(parts)


def as_plain(line: Line, *, escape: bool = True) -> str:
    """The line as plain text (bold markers dropped); ``escape=False`` only for the local sandbox."""
    body = "".join(inert(span.text) if escape else span.text for span in line.spans)
    return (_BULLET if line.bullet else "") + body
