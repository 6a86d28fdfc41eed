"""The lab's pipeline runs (status, duration) and the log of the highlighted run, growing while it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, RichLog, Static

from ...lab.resources_view import Meaning, run_duration, run_meaning
from ..theme import meaning_colour
from .tables import fill

if TYPE_CHECKING:
    from ...pipeline import LogLine, Run

COLUMNS = ("RUN", "REPO", "COMMIT", "STATUS", "TOOK", "MESSAGE")


class PipelinePanel(Vertical):
    """`show_runs(runs)` redraws the table; `show_log(run_id, lines, fresh)` appends to (or restarts) the log."""

    DEFAULT_CSS = """
    PipelinePanel { height: 1fr; }
    PipelinePanel #pipeline-runs { height: auto; max-height: 45%; background: $surface; }
    PipelinePanel #pipeline-log-title { height: 1; color: $text-muted; margin-top: 1; }
    PipelinePanel #pipeline-log { height: 1fr; background: $surface; }
    """

    class RunChosen(Message):
        """The learner highlighted a run: follow its log."""

        def __init__(self, run_id: int) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.runs: list[Run] = []
        self.following: int | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(cursor_type="row", id="pipeline-runs")
        fill(table, COLUMNS, [])
        yield table
        yield Static("No pipeline runs yet: push to one of the lab's repos.", id="pipeline-log-title")
        yield RichLog(id="pipeline-log", wrap=True, markup=False, auto_scroll=True)

    def show_runs(self, runs: Sequence[Run]) -> None:
        self.runs = list(runs)
        table = self.query_one("#pipeline-runs", DataTable)
        keep = table.cursor_row if table.row_count else 0
        now = self.clock()
        fill(table, COLUMNS, [(str(run.id), self._cells(run, now)) for run in runs])
        if runs:
            table.move_cursor(row=min(keep, len(runs) - 1), animate=False)
        self._title()

    def _cells(self, run: Run, now: float) -> tuple[Text, ...]:
        return (
            Text(str(run.id)),
            Text(run.repo),
            Text(run.short_commit, style=meaning_colour(self.app, Meaning.PENDING)),
            Text(run.status, style=meaning_colour(self.app, run_meaning(run.status))),
            Text(run_duration(run.started_at, run.ended_at, now)),
            Text(run.summary[:60], no_wrap=True, overflow="ellipsis"),
        )

    def show_log(self, run_id: int, lines: Sequence[LogLine], fresh: bool) -> None:
        log = self.query_one("#pipeline-log", RichLog)
        if fresh:
            log.clear()
            self.following = run_id
        for line in lines:
            if line.stream == "sys":
                log.write(Text(f"│ {line.text}", style="dim"))
            else:
                log.write(Text(line.text))
        self._title()

    def _title(self) -> None:
        title = self.query_one("#pipeline-log-title", Static)
        run = next((run for run in self.runs if run.id == self.following), None)
        if run is None:
            if not self.runs:
                title.update("No pipeline runs yet: push to one of the lab's repos.")
            return
        text = Text(f"Log of run {run.id} ({run.repo} {run.short_commit}): ")
        text.append(run.status, style=meaning_colour(self.app, run_meaning(run.status)))
        title.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is not None and int(key) != self.following:
            self.post_message(self.RunChosen(int(key)))
