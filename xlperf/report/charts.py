"""Charts for the province report, drawn with matplotlib (Agg, no display) as PNG bytes.

Chinese labels need a CJK font: the first installed one of `CJK_FONTS` is
used (Windows, macOS and Linux names); without any, labels would show as
boxes, so the charts say so in their log instead of silently shipping tofu.
"""
from __future__ import annotations

import functools
import io
import logging
import warnings

import matplotlib

matplotlib.use("Agg")
from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

log = logging.getLogger(__name__)

CJK_FONTS = ("SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Noto Sans CJK SC", "Noto Sans SC",
             "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
             "Noto Serif CJK SC", "AR PL UMing CN", "SimSun")
DPI = 200
WIDTH_IN = 6.3            # about 160 mm, the text width of an A4 page with official margins
BAR = "#4472C4"
LOW = "#C00000"
_font: list[str] = []


def cjk_font() -> str | None:
    """The family used for Chinese text, or None when no CJK font is installed."""
    if not _font:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        hit = next((n for n in CJK_FONTS if n in installed), None)
        if hit is None:       # fonts installed after matplotlib built its cache
            font_manager.fontManager = font_manager.FontManager()
            installed = {f.name for f in font_manager.fontManager.ttflist}
            hit = next((n for n in CJK_FONTS if n in installed), None)
        if hit is None:
            log.warning("没有找到中文字体（如 Noto Sans CJK SC、SimHei），图表中的中文可能无法显示")
        _font.append(hit or "")
    return _font[0] or None


def _figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)     # not pyplot: no global state, no leaks
    fig.set_layout_engine("constrained")
    return fig


def _png(fig: Figure) -> io.BytesIO:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a glyph missing from the font must not stop the report
        fig.savefig(buf, format="png", dpi=DPI)
    buf.seek(0)
    return buf


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _fonted(fn):
    """Run a chart builder with the CJK font as the default family (text takes rcParams when created)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        font = cjk_font()
        rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"], "axes.unicode_minus": False,
              "font.size": 10}
        with plt.rc_context(rc):
            return fn(*args, **kwargs)
    return wrapper


@_fonted
def grade_chart(labels: list[str], counts: list[int], shares: list[str]) -> io.BytesIO:
    """Projects per grade, each bar labelled with its count and share."""
    fig = _figure(2.8)
    ax = fig.add_subplot()
    bars = ax.bar(labels, counts, color=BAR, width=0.55)
    ax.bar_label(bars, labels=[f"{c}个（{s}）" for c, s in zip(counts, shares)], padding=2)
    ax.set_ylabel("项目数")
    ax.set_ylim(0, max(counts + [1]) * 1.2)
    ax.yaxis.get_major_locator().set_params(integer=True)
    _style(ax)
    return _png(fig)


@_fonted
def city_rate_chart(names: list[str], rates: list[float | None], labels: list[str], low: float) -> io.BytesIO:
    """Execution rate per city as horizontal bars labelled as the report prints them; below `low` in red."""
    fig = _figure(max(2.2, 0.32 * len(names) + 1.0))
    ax = fig.add_subplot()
    values = [(r or 0.0) * 100 for r in rates]
    colors = [LOW if r is not None and r < low else BAR for r in rates]
    bars = ax.barh(names, values, color=colors, height=0.6)
    ax.bar_label(bars, labels=labels, padding=3)
    ax.axvline(low * 100, color="#7F7F7F", linestyle="--", linewidth=1)
    ax.text(low * 100, 1.0, f"{low * 100:g}%", color="#7F7F7F", va="bottom", ha="center",
            transform=ax.get_xaxis_transform())
    ax.set_xlim(0, max(values + [100]) * 1.15)
    ax.set_xlabel("预算执行率（%）")
    ax.invert_yaxis()
    _style(ax)
    return _png(fig)


@_fonted
def city_score_chart(names: list[str], scores: list[float | None], labels: list[str]) -> io.BytesIO:
    """Mean total score per city as horizontal bars, labelled as the report prints them."""
    fig = _figure(max(2.2, 0.32 * len(names) + 1.0))
    ax = fig.add_subplot()
    values = [s or 0.0 for s in scores]
    bars = ax.barh(names, values, color="#70AD47", height=0.6)
    ax.bar_label(bars, labels=labels, padding=3)
    ax.set_xlim(0, 115)
    ax.set_xlabel("平均总分（分）")
    ax.invert_yaxis()
    _style(ax)
    return _png(fig)
