"""Splitting a message into parts that each fit a platform's byte limit.

Rules:
- parts break at line (paragraph) boundaries; a single line longer than a part is cut between characters
  (code points, so never inside a UTF-8 sequence);
- every part of a split message is numbered (``（2/3）``) and the size of each part is measured with its
  numbering, title and mention tokens, exactly as the dialect will compose it;
- mentions ride on the **last** part, so that people are notified once, when the whole text is there to
  read; if they do not all fit on it, the remaining mentions continue on further parts;
- ``@all`` goes on the very last part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.outbound.markup import Line
from storage.outbound import Mention


@dataclass(frozen=True)
class Chunk:
    """The content of one part, and its place in the sequence (``index`` of ``total``, from 1)."""

    lines: tuple[Line, ...] = ()
    mentions: tuple[Mention, ...] = ()
    at_all: bool = False
    index: int = 1
    total: int = 1


class Sizer(Protocol):
    """A dialect's measure: the bytes a chunk occupies against ``limit`` once composed."""

    @property
    def limit(self) -> int: ...

    def size(self, chunk: Chunk) -> int: ...


class TooSmall(ValueError):
    """Even an empty part, or one character, does not fit: the limit cannot be met."""


def split(lines: Sequence[Line], mentions: Sequence[Mention], at_all: bool, sizer: Sizer) -> list[Chunk]:
    """The parts, in order; a message that fits is one unnumbered part."""
    whole = Chunk(tuple(lines), tuple(mentions), at_all)
    if sizer.size(whole) <= sizer.limit:
        return [whole]
    digits = 1
    while True:
        widest = 10**digits - 1  # measure every part as if numbered widest/widest
        chunks = _pack(lines, mentions, at_all, sizer, widest)
        if len(chunks) <= widest:
            break
        digits += 1
    total = len(chunks)
    return [replace(chunk, index=number, total=total) for number, chunk in enumerate(chunks, start=1)]


def _pack(lines: Sequence[Line], mentions: Sequence[Mention], at_all: bool, sizer: Sizer, widest: int) -> list[Chunk]:
    def fits(body: Sequence[Line], who: Sequence[Mention] = (), everyone: bool = False) -> bool:
        return sizer.size(Chunk(tuple(body), tuple(who), everyone, widest, widest)) <= sizer.limit

    if not fits(()):
        raise TooSmall("the part's frame alone exceeds the limit")
    chunks: list[Chunk] = []
    current: list[Line] = []
    for line in lines:
        if fits([*current, line]):
            current.append(line)
            continue
        if current:
            chunks.append(Chunk(tuple(current)))
            current = []
        rest = line
        while not fits([rest]):
            head, rest = rest.cut(_longest_prefix(rest, fits))
            chunks.append(Chunk((head,)))
        current = [rest]
    who: list[Mention] = []
    for mention in mentions:
        if fits(current, [*who, mention]):
            who.append(mention)
            continue
        if not fits((), [mention]):
            raise TooSmall(f"a single mention does not fit a part: {mention.name}")
        chunks.append(Chunk(tuple(current), tuple(who)))
        current, who = [], [mention]
    if at_all and not fits(current, who, True):
        chunks.append(Chunk(tuple(current), tuple(who)))
        current, who = [], []
    if current or who or at_all or not chunks:
        chunks.append(Chunk(tuple(current), tuple(who), at_all))
    return chunks


def _longest_prefix(line: Line, fits: _Fits) -> int:
    """How many leading characters of ``line`` fit a part on their own (binary search; at least one)."""
    low, high = 0, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if fits([line.cut(middle)[0]]):
            low = middle
        else:
            high = middle - 1
    if low == 0:
        raise TooSmall("not even one character fits a part")
    return low


class _Fits(Protocol):
    def __call__(self, body: Sequence[Line], who: Sequence[Mention] = (), everyone: bool = False) -> bool: ...
