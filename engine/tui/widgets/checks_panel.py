"""The current step's checks, each ✓/✗/… with its message, and what the learner can do once all pass."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...checks.results import CheckResult, StepResult
from ...lab.resources_view import Meaning
from ..theme import check_meaning, meaning_colour


class ChecksPanel(VerticalScroll):
    """Draws a StepResult; states: waiting for the lab, checking, some failing, all passing (-passed)."""

    DEFAULT_CSS = """
    ChecksPanel {
        height: auto;
        max-height: 50%;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    ChecksPanel.-passed { border: round $status-ok; border-title-color: $status-ok; }
    ChecksPanel #checks-lines { height: auto; }
    ChecksPanel #checks-banner { height: auto; margin-top: 1; display: none; }
    ChecksPanel.-passed #checks-banner { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Checks"
        self.result: StepResult | None = None

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the lab…", id="checks-lines")
        yield Static("", id="checks-banner")

    def waiting(self, text: str) -> None:
        """No results yet (the lab is starting, or the checks are being read for the first time)."""
        self.result = None
        self.remove_class("-passed")
        self.border_subtitle = ""
        self.query_one("#checks-lines", Static).update(Text(text, style="dim"))

    def show(self, result: StepResult) -> None:
        self.result = result
        lines = Text()
        if not result.results:
            lines.append("This step has no checks: read it, then go on.", style="dim")
        for index, check in enumerate(result.results):
            if index:
                lines.append("\n")
            self._append(lines, check, 0)
        self.query_one("#checks-lines", Static).update(lines)
        self.border_subtitle = result.summary
        self.set_class(result.passed, "-passed")

    def passed(self, banner: str) -> None:
        """The step is recorded as done; `banner` says what comes next."""
        self.add_class("-passed")
        colour = meaning_colour(self.app, Meaning.OK)
        self.query_one("#checks-banner", Static).update(Text(banner, style=f"bold {colour}"))

    def _append(self, lines: Text, check: CheckResult, depth: int) -> None:
        colour = meaning_colour(self.app, check_meaning(check))
        lines.append("  " * depth)
        lines.append(f"{check.mark} ", style=f"bold {colour}")
        lines.append(check.name, style="bold" if depth == 0 else "")
        if check.message and check.message != check.name:
            lines.append("\n" + "  " * depth + "  ")
            lines.append(check.message, style="dim")
        for child in check.children:
            lines.append("\n")
            self._append(lines, child, depth + 1)
