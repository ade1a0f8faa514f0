"""Charts for the documents and the console, as PNG bytes: on-time rate by month, units × months, items by light.

matplotlib draws with the Agg backend on its own ``Figure`` objects (no pyplot state, safe in a server), and with
a CJK font found on the machine: Debian's ``fonts-wqy-zenhei`` (``deploy/system-packages.txt``) or any of the
common Chinese fonts. Without one, :class:`ChartFontMissing` says what to install rather than drawing empty boxes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

# In order of preference: what Debian ships (fonts-wqy-zenhei, fonts-noto-cjk), then what office PCs have.
CJK_FONTS = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
DPI = 150
HEATMAP_DPI = 110
HEATMAP_ROWS = 50  # units per heat-map image: more would not stay legible on an A4 page
STATUS_CODES = {"on_time": 0, "late": 1, "missing": 2}
STATUS_COLOURS = ("#4e9a5b", "#e5a53b", "#c8413a")
STATUS_LABELS = ("按时报送", "逾期报送", "未报送")
LIGHT_COLOURS = {"红灯": "#c8413a", "黄灯": "#e5a53b", "绿灯": "#4e9a5b"}


class ChartFontMissing(RuntimeError):
    """No font on this machine has Chinese glyphs."""


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str
    weight: int | str  # WenQuanYi Zen Hei has only one, 500: asking for another makes matplotlib complain


_DRAWING = threading.RLock()
_CJK_FILE_HINTS = ("wqy", "cjk", "sourcehan", "simhei", "msyh", "pingfang")


def _known_cjk() -> CjkFont | None:
    installed = {entry.name: entry for entry in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in installed:
            entry = installed[family]
            return CjkFont(family, entry.fname, entry.weight)
    return None


@functools.lru_cache(maxsize=1)
def cjk_font() -> CjkFont:
    """The first CJK font found (see :data:`CJK_FONTS`), also one installed after matplotlib cached its font list."""
    found = _known_cjk()
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
            font_manager.fontManager.addfont(path)
    found = _known_cjk()
    if found is not None:
        return found
    raise ChartFontMissing(
        "图表需要中文字体，本机未找到（可安装 Debian 软件包 fonts-wqy-zenhei，"
        f"或 {'、'.join(CJK_FONTS[1:])} 之一），否则图中的中文将显示为方框。"
    )


@contextmanager
def _cjk() -> Iterator[None]:
    font = cjk_font()
    settings: dict[str, Any] = {
        "font.family": [font.family],
        "font.sans-serif": [font.family],
        "font.weight": font.weight,
        "axes.titleweight": font.weight,
        "axes.labelweight": font.weight,
        "axes.unicode_minus": False,
    }
    # rc_context changes matplotlib's global settings: one chart at a time, or a chart drawn in another thread
    # could find the defaults (and no Chinese glyphs) restored under it.
    with _DRAWING, rc_context(settings):  # type: ignore[arg-type]
        yield


def _png(figure: Figure, dpi: int = DPI) -> bytes:
    buffer = BytesIO()
    FigureCanvasAgg(figure)
    # Light compression: flat colours compress well anyway, and the default level is a third of a 500-unit report.
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


@dataclass(frozen=True)
class MonthRate:
    label: str  # 10月
    rate: float  # 0–1


def on_time_chart(months: Sequence[MonthRate], title: str) -> bytes:
    """Bars of the on-time rate for each month, the percentage written on each."""
    with _cjk():
        figure = Figure(figsize=(6.4, 3.2), layout="constrained")
        axes = figure.add_subplot()
        labels = [month.label for month in months]
        values = [month.rate * 100 for month in months]
        bars = axes.bar(labels, values, color="#3b6ea8", width=0.6)
        axes.bar_label(bars, labels=[f"{value:.1f}%" for value in values], padding=2, fontsize=9)
        axes.set_ylim(0, 115)
        axes.set_yticks([0, 20, 40, 60, 80, 100])
        axes.set_ylabel("按时报送率（%）")
        axes.set_title(title, fontsize=11)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def heatmap_charts(unit_names: Sequence[str], months: Sequence[str], statuses: Sequence[Sequence[str]]) -> list[bytes]:
    """Units (rows) × months (columns) coloured by standing, :data:`HEATMAP_ROWS` units to an image."""
    images = []
    for start in range(0, len(unit_names), HEATMAP_ROWS) or [0]:
        names = unit_names[start : start + HEATMAP_ROWS]
        codes = [[STATUS_CODES[status] for status in row] for row in statuses[start : start + HEATMAP_ROWS]]
        images.append(_heatmap(names, months, codes, start, len(unit_names)))
    return images


def _heatmap(names: Sequence[str], months: Sequence[str], codes: list[list[int]], start: int, total: int) -> bytes:
    """One image of the heat map. Laid out by hand in inches (no constrained layout, no minor ticks): a
    500-unit report draws thirteen of these, and layout passes would double the time."""
    with _cjk():
        rows = max(len(names), 1)
        longest = max((len(name) for name in names), default=4)
        # Inches: the month labels above; the legend and the note below; the unit names (8 pt, ~0.115 in each).
        top, bottom, left, right = 0.45, 0.75, min(max(0.3 + 0.115 * longest, 1.0), 3.2), 0.2
        height = top + bottom + 0.2 * rows
        width = 6.4
        figure = Figure(figsize=(width, height))
        axes = figure.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
        if codes:
            axes.imshow(
                codes, cmap=ListedColormap(STATUS_COLOURS), vmin=0, vmax=2, aspect="auto", interpolation="nearest"
            )
        axes.set_xticks(range(len(months)), months, fontsize=9)
        axes.set_yticks([])
        for row, name in enumerate(names):  # plain texts: a tick per unit costs three times as much to draw
            axes.text(-0.6, row, name, ha="right", va="center", fontsize=8)
        axes.xaxis.tick_top()
        axes.tick_params(length=0)
        axes.vlines([x - 0.5 for x in range(1, len(months))], -0.5, rows - 0.5, colors="white", linewidth=1)
        axes.hlines([y - 0.5 for y in range(1, len(names))], -0.5, len(months) - 0.5, colors="white", linewidth=1)
        handles = [Patch(color=colour) for colour in STATUS_COLOURS]
        figure.legend(handles, STATUS_LABELS, loc="lower center", ncols=3, fontsize=9, frameon=False)
        if total > HEATMAP_ROWS:
            note = f"第{start + 1}—{min(start + HEATMAP_ROWS, total)}家（共{total}家）"
            figure.text(0.5, 0.32 / height, note, ha="center", fontsize=9)
        # A 50-unit image prints about 190 mm tall, scaled to two thirds: 110 dpi still prints at 160 dpi.
        return _png(figure, HEATMAP_DPI)


def lights_chart(counts: dict[str, int], title: str) -> bytes:
    """Horizontal bars of open items by light (红灯, 黄灯, 绿灯), the count on each."""
    with _cjk():
        figure = Figure(figsize=(6.4, 2.4), layout="constrained")
        axes = figure.add_subplot()
        labels = list(counts)
        values = [counts[label] for label in labels]
        bars = axes.barh(labels, values, color=[LIGHT_COLOURS.get(label, "#3b6ea8") for label in labels], height=0.6)
        axes.bar_label(bars, labels=[f"{value}项" for value in values], padding=3, fontsize=9)
        axes.invert_yaxis()
        axes.set_xlim(0, max([*values, 1]) * 1.2)
        axes.set_xlabel("事项数（项）")
        axes.set_title(title, fontsize=11)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)
