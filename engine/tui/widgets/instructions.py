"""The step's instructions as Markdown, then the hints revealed so far and the solution once shown.

Code blocks can be stepped through (`[` and `]`); the selected one is marked and is what the copy and run keys
use, so a learner never retypes a command from the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownFence


def step_document(instructions: str, hints: Sequence[str], total_hints: int, solution: str | None) -> str:
    """The Markdown shown for a step: its instructions, then each revealed hint, then the solution if shown."""
    extra = [
        f"> **Hint {number} of {total_hints}**\n>\n" + "\n".join(f"> {line}" for line in hint.splitlines())
        for number, hint in enumerate(hints, start=1)
    ]
    if solution is not None:
        extra.append(f"## Solution\n\n{solution.rstrip()}")
    parts = [instructions.rstrip(), "\n\n".join(extra)] if extra else [instructions.rstrip()]
    return "\n\n---\n\n".join(parts) + "\n"


class Instructions(VerticalScroll, can_focus=True):
    """Scrollable Markdown with a selectable code block."""

    DEFAULT_CSS = """
    Instructions {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    Instructions:focus { border: round $primary; }
    Instructions Markdown { margin: 0; padding: 0; background: $surface; }
    Instructions MarkdownFence.-selected { outline-left: thick $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Instructions"
        self.document = ""
        self.selected = -1

    def compose(self) -> ComposeResult:
        yield Markdown("", open_links=False)

    async def show(self, document: str, *, keep_place: bool = False) -> None:
        """Show a new document; `keep_place` keeps the scroll position (a hint was added below)."""
        if document == self.document:
            return
        self.document = document
        await self.query_one(Markdown).update(document)
        self.selected = -1
        if not keep_place:
            self.scroll_home(animate=False)
        self.border_subtitle = self._blocks_note()

    def blocks(self) -> list[MarkdownFence]:
        return list(self.query(MarkdownFence))

    def select(self, delta: int) -> str | None:
        """Move the selection `delta` blocks on (wrapping) and bring it into view; returns its code."""
        blocks = self.blocks()
        if not blocks:
            self.border_subtitle = "no code blocks"
            return None
        for block in blocks:
            block.remove_class("-selected")
        if self.selected < 0:
            self.selected = 0 if delta > 0 else len(blocks) - 1
        else:
            self.selected = (self.selected + delta) % len(blocks)
        chosen = blocks[self.selected]
        chosen.add_class("-selected")
        self.scroll_to_widget(chosen, animate=False)
        self.border_subtitle = self._blocks_note()
        return chosen.code

    def selected_code(self) -> str | None:
        """The selected block's code; the first block's when none is selected yet."""
        blocks = self.blocks()
        if not blocks:
            return None
        if self.selected < 0:
            return self.select(1)
        return blocks[min(self.selected, len(blocks) - 1)].code

    def _blocks_note(self) -> str:
        count = len(self.blocks())
        if not count:
            return ""
        if self.selected < 0:
            return f"{count} code block{'s' if count != 1 else ''}"
        return f"code block {self.selected + 1} of {count} selected"
