"""Recent commits of each of the lab's Git repos, newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...lab.resources_view import Meaning, RepoHistory, ago
from ..theme import meaning_colour


class GitPanel(VerticalScroll):
    """`show(histories)` redraws; ages are measured with the clock it is given."""

    DEFAULT_CSS = """
    GitPanel { height: 1fr; background: $surface; }
    GitPanel #git-log { height: auto; }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.histories: list[RepoHistory] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Reading the lab's repositories…", style="dim"), id="git-log")

    def show(self, histories: Sequence[RepoHistory]) -> None:
        self.histories = list(histories)
        now = self.clock()
        text = Text()
        for index, history in enumerate(histories):
            if index:
                text.append("\n\n")
            text.append(f"{history.repo}", style="bold")
            text.append(f"  {history.branch}", style=meaning_colour(self.app, "added"))
            if history.problem:
                text.append(f"\n  {history.problem}", style=meaning_colour(self.app, Meaning.PENDING))
                continue
            if not history.commits:
                text.append("\n  no commits yet", style="dim")
            for commit in history.commits:
                text.append("\n  ")
                text.append(commit.short, style=meaning_colour(self.app, Meaning.PENDING))
                text.append(f" {commit.summary}")
                text.append(f"  {commit.author}, {ago(commit.when, now)}", style="dim")
        self.query_one("#git-log", Static).update(text)
