"""Text bar charts for Dagster metadata (Markdown renders them everywhere, no images needed)."""

from __future__ import annotations


def bar_lines(rows: list[tuple[str, float]], width: int = 30, unit: str = "") -> str:
    """A bar per row: label, bar of full blocks scaled to the largest value, value."""
    vmax = max((float(v) for _, v in rows), default=0) or 1.0
    out = []
    for label, v in rows:
        n = round(width * float(v) / vmax)
        out.append(f"{label}  {'█' * n}{'·' * (width - n)}  {v:,.1f}{unit}" if isinstance(v, float)
                   else f"{label}  {'█' * n}{'·' * (width - n)}  {v:,}{unit}")
    return "```\n" + "\n".join(out) + "\n```"
