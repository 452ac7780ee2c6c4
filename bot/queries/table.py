"""Plain-text tables of query rows, for Slack code blocks and the terminal alike.

Cells are cut to a width so one long `@message` cannot push the other columns off screen; numbers align right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.presentation.blocks import cut
from bot.queries.catalog import QueryDef


def cell_text(query: QueryDef | None, column: str, value: Any, *, width: int = 60) -> str:
    """One cell as text: shares as percentages, floats with at most 2 decimals, long text cut with `…`."""
    if value is None:
        text = ""
    elif query is not None and query.share is not None and column == query.share.column \
            and isinstance(value, int | float):
        text = f"{value:.0%}"
    elif isinstance(value, float):
        text = f"{value:,.2f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{int(value)}"
    else:
        text = " ".join(str(value).split())
    return cut(text, width)


def table_lines(
    fields: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    query: QueryDef | None = None,
    width: int = 60,
) -> list[str]:
    """A header line, a rule, then one line per row; columns padded to their widest cell."""
    texts = [[cell_text(query, name, row.get(name), width=width) for name in fields] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in texts)]) for i, name in enumerate(fields)]
    numeric = [all(isinstance(row.get(name), int | float) or row.get(name) is None for row in rows)
               for name in fields]

    def line(cells: Sequence[str], align_numbers: bool) -> str:
        parts = [cell.rjust(w) if align_numbers and num else cell.ljust(w)
                 for cell, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    header = line(list(fields), align_numbers=True)
    rule = "  ".join("-" * w for w in widths)
    return [header, rule, *(line(cells, align_numbers=True) for cells in texts)]
