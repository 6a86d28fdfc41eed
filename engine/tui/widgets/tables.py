"""Filling a DataTable whose columns are as wide as their widest cell, decided before anything is drawn.

DataTable measures automatic column widths later, when it is idle, so a table redrawn in one go could show a
frame with the widths of the headers alone. Widths fixed from the rows themselves never show such a frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable


def fill(table: DataTable[Text], headers: Sequence[str], rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
    """Replace the table's columns and rows; each row is (key, cells)."""
    widths = [len(header) for header in headers]
    for _, cells in rows:
        widths = [max(width, cell.cell_len) for width, cell in zip(widths, cells, strict=True)]
    table.clear(columns=True)
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, width=width, key=header)
    for key, cells in rows:
        table.add_row(*cells, key=key)


def cursor_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the cursor, so a refill can put the cursor back on the same object."""
    if not table.row_count:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:
        return None
    return str(key.value) if key.value is not None else None
