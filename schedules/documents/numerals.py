"""Dates written as a 公文's 成文日期: 二〇二六年十二月四日 (GB/T 9704-2012 7.3.5.1)."""

from __future__ import annotations

from datetime import date

_DIGITS = "〇一二三四五六七八九"


def _small(number: int) -> str:
    """1–31 in Chinese numerals: 四, 十, 十二, 二十, 三十一."""
    tens, ones = divmod(number, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "" if tens == 1 else _DIGITS[tens]
    return f"{head}十{_DIGITS[ones] if ones else ''}"


def chinese_date(day: date) -> str:
    """二〇二六年十二月四日: the year digit by digit, month and day as numbers."""
    year = "".join(_DIGITS[int(digit)] for digit in str(day.year))
    return f"{year}年{_small(day.month)}月{_small(day.day)}日"


def chinese_number(number: int) -> str:
    """1–9999 as written in headings: 一, 十二, 一百零五, 二千零三十."""
    if not 0 < number < 10000:
        raise ValueError(f"out of range: {number}")
    if number < 20:
        return _small(number) if number else ""
    parts = []
    pending_zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // value % 10
        if digit:
            if pending_zero:
                parts.append("零")
            parts.append(_DIGITS[digit] + unit)
            pending_zero = False
        elif parts:
            pending_zero = True
    return "".join(parts)
