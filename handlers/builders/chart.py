"""The insights chart: the 12-week trend as a PNG, readable at Slack's thumbnail size.

Slack shows an image about 360 px wide until it is opened, so the picture is drawn at twice
that with fonts big enough to survive the halving, two series per panel, and direct labels
instead of a legend to look up. Drawing takes a noticeable part of a CPU second: call
``chart_png`` through ``asyncio.to_thread``, never on the event loop. It uses matplotlib's
object API with the Agg canvas: no pyplot state shared between threads, no display needed.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.domain.insights import Figures, WeekPoint

WIDTH_IN, HEIGHT_IN, DPI = 7.2, 6.4, 100
FONT = 19
PANELS = (
    ("Postmortems per week", {"started": "started", "finished": "finished"}),
    ("Corrective actions", {"on time": "done_on_time", "overdue": "overdue"}),
)
"""Each panel's title and series: the label beside its line, and the ``WeekPoint`` field it draws."""
_COLOURS = {"started": "#4a6fa5", "finished": "#2e8b57", "on time": "#2e8b57", "overdue": "#c0392b"}


def _panel(axes: Axes, title: str, labels: list[str], series: dict[str, list[int]]) -> None:
    x = list(range(len(labels)))
    ends = [values[-1] for values in series.values()]
    apart = 11 if len(set(ends)) < len(ends) else 0  # two series ending level: labels above and below
    for (name, values), nudge in zip(series.items(), (apart, -apart), strict=False):
        axes.plot(x, values, marker="o", linewidth=3.5, markersize=7, color=_COLOURS[name])
        axes.annotate(
            f"{name} {values[-1]}",
            (x[-1], values[-1]),
            xytext=(8, nudge),
            textcoords="offset points",
            va="center",
            fontsize=FONT,
            color=_COLOURS[name],
            fontweight="bold",
        )
    axes.set_title(title, loc="left", fontsize=FONT + 3, fontweight="bold")
    ticks = x[::-3][::-1]  # every third week, counted back from the last
    axes.set_xticks(ticks)
    axes.set_xticklabels([labels[i] for i in ticks], fontsize=FONT - 2)
    axes.tick_params(axis="y", labelsize=FONT - 2)
    axes.set_ylim(bottom=0, top=max(1, *(v for values in series.values() for v in values)) * 1.2)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(-0.4, len(x) + 3.4)  # room for the labels at the right end
    axes.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _week_label(point: WeekPoint) -> str:
    return point.ends.strftime("%b %-d")


def chart_png(figures: Figures) -> bytes:
    """The trend (postmortems started and finished; actions done on time and overdue), as PNG bytes."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    labels = [_week_label(point) for point in figures.trend]
    for axes, (title, fields) in zip(figure.subplots(len(PANELS), 1), PANELS, strict=True):
        series = {label: [getattr(p, name) for p in figures.trend] for label, name in fields.items()}
        _panel(axes, title, labels, series)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
