"""Metadata a statistician can read: Markdown tables of aggregates (never names or IDs)."""

from __future__ import annotations


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    def fmt(v) -> str:
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:,.2f}"
        return "" if v is None else str(v)

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(fmt(v) for v in r) + " |" for r in rows)
