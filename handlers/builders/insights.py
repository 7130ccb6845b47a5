"""The insights' words: the short text of `/postmortem insights`, the weekly post and App Home."""

from __future__ import annotations

from bot.domain.insights import STALLED_AFTER, Figures
from handlers.builders import blocks as kit
from handlers.builders import render

CHART_TITLE = "Postmortem insights"


def _days(value: float | None) -> str:
    return "no action done yet" if value is None else f"{value:.1f} days median to close an action"


def _ranked(pairs: list[tuple[str, int]], name: str) -> str:
    return " \u00b7 ".join(f"{name.format(key)} {count}" for key, count in pairs)


def headline(figures: Figures) -> str:
    return f"*Postmortem insights* \u00b7 week to {figures.ends:%a %b %-d %Y, %H:%M} UTC"


def lines(figures: Figures) -> list[str]:
    """One line per kind of figure; people and teams only when someone has overdue actions."""
    out = [
        f"*Postmortems:* {figures.started} started \u00b7 {figures.finished} finished \u00b7 "
        f"{figures.stalled} stalled (no edit for {STALLED_AFTER.days}+ days)",
        f"*Corrective actions:* {figures.done_on_time} done on time \u00b7 {figures.overdue} overdue \u00b7 "
        f"{figures.unowned} unowned \u00b7 {_days(figures.median_days_to_close)}",
    ]
    if figures.top_owners:
        out.append("*Most overdue:* " + _ranked(figures.top_owners, "<@{}>"))
    if figures.top_teams:
        teams = [(render.escape(handle), count) for handle, count in figures.top_teams]
        out.append("*Teams:* " + _ranked(teams, "@{}"))
    return out


def insights_text(figures: Figures) -> str:
    return "\n".join([headline(figures), *lines(figures)])


def home_blocks(figures: Figures, chart_link: str | None) -> list[kit.JSON]:
    """App Home's short block for a postmortem owner: the numbers, and the last weekly chart if there is one."""
    blocks = [kit.header("Insights this week"), kit.section("\n".join(lines(figures)))]
    trend = " \u00b7 ".join(str(p.overdue) for p in figures.trend)
    note = f"Overdue actions at each week's end, last 12 weeks: {trend}"
    if chart_link:
        note += f" \u00b7 <{chart_link}|the 12-week chart>"
    blocks.append(kit.context(note))
    return blocks
