"""Tables that fit their width: a column is shown whole or not at all, never cut mid-value.

A narrow terminal used to cut the History after ``Δ champ`` (``-0.000``) and the drift table
before ``thresh``. Here each table declares its columns: the essential ones are always shown,
the others join in priority order while they fit, and a growing column (a feature name) takes
what room is left. The table lays itself out again when its width changes (a resize, a layout
class), keeping the row under the cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

ESSENTIAL = 0
SCROLLBAR = 1  # cells the vertical scrollbar takes (``scrollbar-size-vertical`` in app.tcss)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # cells for the value; one more separates it from the next column
    priority: int = ESSENTIAL  # 0: always shown; then 1, 2, … while there is room
    grow: int = 0  # at most this many more cells when there is room

    @property
    def cells(self) -> int:
        """Cells for the value or the label, whichever is wider."""
        return max(self.width, len(self.label))


def fit(columns: Sequence[Column], room: int) -> list[tuple[Column, int]]:
    """The columns shown in ``room`` cells, in their declared order, with their widths."""
    shown = {c.key for c in columns if c.priority == ESSENTIAL}
    used = sum(c.cells + 1 for c in columns if c.key in shown)
    for c in sorted((c for c in columns if c.key not in shown), key=lambda c: c.priority):
        if used + c.cells + 1 <= room:
            shown.add(c.key)
            used += c.cells + 1
    spare = max(0, room - used)
    out = []
    for c in columns:
        if c.key in shown:
            extra = min(c.grow, spare)
            spare -= extra
            out.append((c, c.cells + extra))
    return out


def clip(text: str, width: int) -> str:
    """``text`` in ``width`` cells, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under a table's cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:
        return None


class FitTable(DataTable[Any]):
    """A row-cursor table whose columns follow ``fit``; subclasses say what ``fill`` adds."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kw)
        self.fitted: list[tuple[Column, int]] = []

    def on_mount(self) -> None:
        self.relayout()

    def on_resize(self, _event: events.Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        layout = fit(self.COLUMNS, max(0, self.size.width - SCROLLBAR))
        if layout == self.fitted:
            return
        self.fitted = layout
        key = cursor_key(self)
        self.clear(columns=True)
        for column, width in layout:
            self.add_column(column.label, width=width + 1, key=column.key)
        self.fill()
        self.move_to(key)

    @property
    def shown(self) -> list[str]:
        return [c.key for c, _ in self.fitted]

    def width_of(self, key: str) -> int:
        return next((w for c, w in self.fitted if c.key == key), 0)

    def add_cells(self, cells: dict[str, Any], key: str) -> None:
        """One row from its cells by column key; a column not shown is left out."""
        row = []
        for column, width in self.fitted:
            cell = cells[column.key]
            if isinstance(cell, str):
                cell = Text(clip(cell, width))  # user text (a name, a branch): never markup
            row.append(cell)
        self.add_row(*row, key=key)

    def move_to(self, key: str | None) -> None:
        if key is not None and key in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def fill(self) -> None:
        """Add the rows this table shows (after a new layout emptied it)."""
