"""duban's light markdown (``**bold**`` spans, ``- `` bullets, one paragraph per line), parsed once.

Every dialect renders the same :class:`Line` values. Only bold and bullets carry meaning; every other
character is literal and is made inert by :func:`inert` before it reaches a platform, so that body text
— including a template that interpolated something unexpected — can never open a mention, a link, an
HTML-like tag or a heading. (A lone ``_`` is left alone: it opens nothing by itself, and identifiers such as
``access_token`` in the office's notices stay readable; a person's words have ``_`` replaced by ``quote``.)

The one exception is a link the office wrote itself: :func:`storage.outbound.office_links` and
:func:`storage.outbound.quote_keeping_links` mark its address with two private-use characters, which
:func:`storage.outbound.quote` strips from everyone else's words and :func:`inert` strips from any text. A
marked address that is a plain http/https link (:data:`storage.outbound.LINK`) and one the message lists as the
office's (``OutboundMessage.links``) becomes a link :class:`Span`, which each dialect renders as that platform's
working link; anything else between marks stays inert text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from storage.outbound import LINK, LINK_CLOSE, LINK_OPEN

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_BULLET = "- "
_MARKED_LINK = re.compile(f"{LINK_OPEN}([^{LINK_OPEN}{LINK_CLOSE}]*){LINK_CLOSE}")

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
# Control characters, zero-width and invisible characters, every bidi control (U+061C included) and link marks.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ue000\ue001]"
)


def inert(text: str) -> str:
    """``text`` with nothing any platform would read as markup, a mention or a link (idempotent)."""
    cleaned = _CONTROL.sub("", text).translate(_INERT)
    return _URL_SCHEME.sub(lambda m: f"{m[1]}：", cleaned)


@dataclass(frozen=True)
class Span:
    """Plain or bold text, or (``link``) an office-written http/https address that stays a working link."""

    text: str
    bold: bool = False
    link: bool = False


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
            elif remaining > 0 and span.link and head:
                tail.append(span)  # a link is never cut in two: it moves whole to the rest
                remaining = 0
            elif remaining > 0:  # a link too long for any part is cut as text (inert, but nothing is lost)
                head.append(Span(span.text[:remaining], span.bold))
                tail.append(Span(span.text[remaining:], span.bold))
                remaining = 0
            else:
                tail.append(span)
        return Line(tuple(head), self.bullet), Line(tuple(tail))


def _with_links(span: Span, links: Collection[str]) -> list[Span]:
    """``span`` split at its marked links; a marked address that is not one of ``links`` (the office's) stays text."""
    spans: list[Span] = []
    position = 0
    for match in _MARKED_LINK.finditer(span.text):
        if match.start() > position:
            spans.append(Span(span.text[position : match.start()], span.bold))
        address = match[1]
        spans.append(Span(address, span.bold, link=address in links and LINK.fullmatch(address) is not None))
        position = match.end()
    if position < len(span.text):
        spans.append(Span(span.text[position:], span.bold))
    return [piece for piece in spans if piece.text]


def parse_line(raw: str, links: Collection[str] = ()) -> Line:
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
    return Line(tuple(piece for span in spans for piece in _with_links(span, links)), bullet)


def parse(body: str, links: Collection[str] = ()) -> list[Line]:
    """The body's paragraphs (trailing blank lines dropped; a CR LF is a line break); ``links``: the addresses
    the office wrote, the only ones a link mark may make live."""
    raw_lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    allowed = frozenset(links)
    return [parse_line(raw, allowed) for raw in raw_lines]


def _markdown_span(span: Span) -> str:
    if span.link:  # WeCom and DingTalk markdown both document ``[text](url)``
        return f"[{span.text}]({span.text})"
    return f"**{inert(span.text)}**" if span.bold and span.text.strip() else inert(span.text)


def as_markdown(line: Line) -> str:
    """The line in the common markdown subset (WeCom, DingTalk), every literal character inert but links."""
    return (_BULLET if line.bullet else "") + "".join(_markdown_span(span) for span in line.spans)


def as_plain(line: Line, *, escape: bool = True) -> str:
    """The line as plain text (bold markers dropped; a link as its bare address, which clients make clickable);
    ``escape=False`` only for the local sandbox."""
    body = "".join(span.text if span.link or not escape else inert(span.text) for span in line.spans)
    return (_BULLET if line.bullet else "") + body
