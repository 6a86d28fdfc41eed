"""The GitOps agents' sources and syncs, as `flux get all` and `argocd app list` show them, coloured by meaning."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...lab.resources_view import AgentRow, Meaning
from ..theme import meaning_colour
from .tables import cursor_key, fill

COLUMNS = ("KIND", "NAME", "REVISION", "READY", "MESSAGE")
MIN_MESSAGE = 12
CELL_PADDING = 2  # DataTable pads each cell by one column on either side


class GitOpsPanel(Vertical):
    """Redraws on every `show(rows)`, keeping the cursor on the same object; `connection()` says when the
    lab's API is gone and back."""

    DEFAULT_CSS = """
    GitOpsPanel { height: 1fr; }
    GitOpsPanel #gitops-state { height: auto; color: $text-muted; }
    GitOpsPanel #gitops-state.-lost { color: $status-error; }
    GitOpsPanel DataTable { height: 1fr; background: $surface; }
    """

    def __init__(self, agents: Sequence[str] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.agents = list(agents)
        self.rows: list[AgentRow] = []

    def compose(self) -> ComposeResult:
        yield Static("Reading the GitOps agents' sources and syncs…", id="gitops-state")
        table: DataTable[Text] = DataTable(cursor_type="row", id="gitops-table")
        fill(table, COLUMNS, [])
        yield table

    def show(self, rows: Sequence[AgentRow]) -> None:
        self.rows = list(rows)
        table = self.query_one(DataTable)
        keep = cursor_key(table)
        namespaces = {row.namespace for row in rows}
        cells = [self._cells(row, with_namespace=len(namespaces) > 1) for row in rows]
        room = self._message_room(cells)
        for row_cells in cells:
            row_cells[-1].truncate(room, overflow="ellipsis")
        fill(table, COLUMNS, [(row.key, tuple(row_cells)) for row, row_cells in zip(rows, cells, strict=True)])
        if keep is not None and keep in {row.key for row in rows}:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        state = self.query_one("#gitops-state", Static)
        if not state.has_class("-lost"):
            state.update(self._summary(rows))

    def on_resize(self) -> None:
        if self.rows:
            self.show(self.rows)

    def _message_room(self, cells: Sequence[list[Text]]) -> int:
        """How wide messages may be so the table fits the panel (long ones end in …)."""
        widths = [len(header) for header in COLUMNS[:-1]]
        for row_cells in cells:
            widths = [max(width, cell.cell_len) for width, cell in zip(widths, row_cells[:-1], strict=True)]
        used = sum(widths) + CELL_PADDING * len(COLUMNS) + 1
        return max(self.size.width - used, MIN_MESSAGE)

    def connection(self, connected: bool, message: str) -> None:
        state = self.query_one("#gitops-state", Static)
        state.set_class(not connected, "-lost")
        if connected:
            state.update(self._summary(self.rows))
        else:
            state.update(f"Lost the connection to the lab; reconnecting… ({message})")

    def _cells(self, row: AgentRow, *, with_namespace: bool) -> list[Text]:
        """NAME carries the namespace only when the rows are in several (else the summary names it)."""
        colour = meaning_colour(self.app, row.meaning)
        return [
            Text(row.short_kind, style="bold" if row.source else ""),
            Text(f"{row.namespace}/{row.name}" if with_namespace else row.name),
            Text(row.revision, style=meaning_colour(self.app, Meaning.PENDING) if row.revision != "-" else "dim"),
            Text(row.ready, style=f"bold {colour}"),
            Text(row.message, style=colour if row.meaning == Meaning.ERROR else "dim", no_wrap=True),
        ]

    def _summary(self, rows: Sequence[AgentRow]) -> Text:
        agents = " and ".join("Flux" if agent == "flux" else "Argo CD" for agent in self.agents) or "the agent"
        if not rows:
            return Text(f"No sources or syncs yet: {agents} has nothing to reconcile.")
        sources = sum(1 for row in rows if row.source)
        syncs = len(rows) - sources
        text = Text(f"{sources} source{'s' if sources != 1 else ''}, {syncs} sync{'s' if syncs != 1 else ''}")
        namespaces = sorted({row.namespace for row in rows})
        if len(namespaces) == 1:
            text.append(f" in {namespaces[0]}")
        for meaning, word in ((Meaning.OK, "ready"), (Meaning.PENDING, "reconciling"), (Meaning.ERROR, "failing"),
                              (Meaning.KILLED, "suspended")):  # fmt: skip
            count = sum(1 for row in rows if row.meaning == meaning)
            if count:
                text.append("  ")
                text.append(f"{count} {word}", style=meaning_colour(self.app, meaning))
        return text
