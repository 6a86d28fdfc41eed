"""The course picker: every course with its level, duration and the learner's progress; Enter opens one.

The cursor starts on the course opened last, so Enter resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...lab.catalogue import CourseCard, last_opened
from ...lab.resources_view import Meaning, ago
from .. import actions
from ..theme import meaning_colour

# Fixed widths: the table keeps its shape whatever the titles (a long one ends in …), and fits in 80 columns.
COLUMNS = (("COURSE", 26), ("LEVEL", 12), ("DURATION", 8), ("PROGRESS", 8), ("LAST OPENED", 14))


class PickerScreen(Screen[None]):
    """Shows CourseCards; Enter posts PickerScreen.Open for the highlighted one."""

    DEFAULT_CSS = """
    PickerScreen { background: $background; }
    PickerScreen #picker-title { height: 1; padding: 0 1; background: $panel; color: $text; }
    PickerScreen #courses {
        height: auto;
        max-height: 60%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
    }
    PickerScreen #course-detail {
        height: auto;
        border: round $panel-lighten-2;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = actions.bindings(actions.PICKER)
    SCOPE = actions.PICKER

    class Open(Message):
        """The learner chose a course."""

        def __init__(self, card: CourseCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, clock: Callable[[], float], learner: str | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.learner = learner
        self.cards: list[CourseCard] = []

    def compose(self) -> ComposeResult:
        title = Text.assemble(("driftlab", "bold"), "  ·  pick a course")
        if self.learner is not None:
            title.append(f"  ·  {self.learner}", style="bold")
        yield Static(title, id="picker-title")
        with Vertical():
            table: DataTable[Text] = DataTable(cursor_type="row", id="courses")
            table.border_title = "Courses"
            for label, width in COLUMNS:
                table.add_column(label, width=width)
            yield table
            yield Static(Text("Reading the courses…", style="dim"), id="course-detail")
        yield Footer()

    def show(self, cards: Sequence[CourseCard]) -> None:
        """List the courses, with the cursor on the one opened last (or on the same course as before)."""
        table = self.query_one("#courses", DataTable)
        before = self.highlighted
        self.cards = list(cards)
        table.clear()
        now = self.clock()
        for card in cards:
            table.add_row(*self._cells(card, now), key=card.name)
        resume = last_opened(cards)
        target = before or resume
        if target is not None and target.name in {card.name for card in cards}:
            table.move_cursor(row=table.get_row_index(target.name), animate=False)
        table.border_subtitle = f"{len(cards)} course{'s' if len(cards) != 1 else ''}"
        if not cards:
            self.query_one("#course-detail", Static).update("No courses found.")
        else:
            self._detail(self.highlighted)
        table.focus()

    @property
    def highlighted(self) -> CourseCard | None:
        table = self.query_one("#courses", DataTable)
        if not self.cards or not table.row_count:
            return None
        return self.cards[min(table.cursor_row, len(self.cards) - 1)]

    def _cells(self, card: CourseCard, now: float) -> tuple[Text, ...]:
        resume = last_opened(self.cards)
        mark = "▶ " if resume is not None and resume.name == card.name else "  "
        if not card.valid:
            progress = Text("invalid", style=meaning_colour(self.app, Meaning.ERROR))
        elif card.finished:
            progress = Text("done ✓", style=meaning_colour(self.app, Meaning.OK))
        elif card.started:
            progress = Text(card.progress_label, style=meaning_colour(self.app, Meaning.PENDING))
        else:
            progress = Text("new", style="dim")
        opened = card.last_opened.timestamp() if card.last_opened is not None else None
        return (
            Text(mark + card.title, style="bold" if mark.strip() else "", no_wrap=True, overflow="ellipsis"),
            Text(card.level),
            Text(card.duration),
            progress,
            Text(ago(opened, now) if opened is not None else "–", style="dim"),
        )

    def _detail(self, card: CourseCard | None) -> None:
        detail = self.query_one("#course-detail", Static)
        if card is None:
            return
        detail.border_title = card.title
        if not card.valid:
            text = Text("This course cannot be opened:\n", style=meaning_colour(self.app, Meaning.ERROR))
            text.append("\n".join(card.problems[:8]))
            detail.update(text)
            return
        text = Text(card.summary + "\n\n")
        text.append(f"{card.steps} steps · {card.level} · about {card.duration}\n", style="dim")
        if card.finished:
            text.append("You finished this course. Enter opens it again.", style=meaning_colour(self.app, Meaning.OK))
        elif card.started:
            text.append(f"{card.passed} of {card.steps} steps done; next: {card.current_title}\n")
            text.append("Enter resumes where you left off.", style=meaning_colour(self.app, "added"))
        else:
            text.append("Enter starts its lab.", style=meaning_colour(self.app, "added"))
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._detail(self.highlighted)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        card = self.highlighted
        if card is not None:
            self.post_message(self.Open(card))
