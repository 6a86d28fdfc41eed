"""The lab's cluster as k9s shows it: namespaces, their workloads, and each workload's pods, coloured by status."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...lab.resources_view import Meaning, ResourceRow, count_by_meaning
from ..theme import meaning_colour
from .tables import cursor_key, fill

SHORT_KINDS = {"Deployment": "deploy", "StatefulSet": "sts", "DaemonSet": "ds", "Job": "job"}
COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE")


class ResourcesPanel(Vertical):
    """Redraws the tree on every `show(rows)`, keeping the cursor on the same object."""

    DEFAULT_CSS = """
    ResourcesPanel { height: 1fr; }
    ResourcesPanel #resources-state { height: auto; color: $text-muted; }
    ResourcesPanel #resources-state.-lost { color: $status-error; }
    ResourcesPanel DataTable { height: 1fr; background: $surface; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[ResourceRow] = []

    def compose(self) -> ComposeResult:
        yield Static("Reading the cluster…", id="resources-state")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=False, id="resources-table")
        fill(table, COLUMNS, [])
        yield table

    def show(self, rows: Sequence[ResourceRow]) -> None:
        self.rows = list(rows)
        table = self.query_one(DataTable)
        keep = cursor_key(table)
        fill(table, COLUMNS, [(row.key, self._cells(row)) for row in rows])
        if keep is not None and keep in {row.key for row in rows}:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        state = self.query_one("#resources-state", Static)
        if not state.has_class("-lost"):
            state.update(self._summary(rows))

    def connection(self, connected: bool, message: str) -> None:
        """The lab's API went away (the feed keeps trying) or came back."""
        state = self.query_one("#resources-state", Static)
        state.set_class(not connected, "-lost")
        if connected:
            state.update(self._summary(self.rows))
        else:
            state.update(f"Lost the connection to the lab; reconnecting… ({message})")

    def _cells(self, row: ResourceRow) -> tuple[Text, ...]:
        colour = meaning_colour(self.app, row.meaning)
        if row.level == 0:
            name = Text(row.name, style="bold")
        elif row.level == 1:
            short = SHORT_KINDS.get(row.kind)
            name = Text("  " + (f"{short}/{row.name}" if short else row.name), style="" if short else "dim")
        else:
            name = Text("    " + row.name)
        status = Text(row.status, style=colour)
        return name, Text(row.ready), status, Text(row.restarts, justify="right"), Text(row.age, justify="right")

    def _summary(self, rows: Sequence[ResourceRow]) -> Text:
        counts = count_by_meaning(rows)
        total = sum(counts.values())
        if not rows:
            return Text("No namespaces of the lab yet.")
        text = Text(f"{total} pod{'s' if total != 1 else ''}")
        for meaning in (Meaning.OK, Meaning.PENDING, Meaning.ERROR, Meaning.COMPLETED, Meaning.KILLED):
            if counts.get(meaning):
                text.append("  ")
                text.append(f"{counts[meaning]} {meaning}", style=meaning_colour(self.app, meaning))
        return text
