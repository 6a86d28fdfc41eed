"""Every key of driftlab, grouped by where it works, with what it does (after the learner's remapping)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .. import actions


def keys_table(keymap: Mapping[str, str]) -> Table:
    """Keys, what they do, and the id to remap them by, one section per screen."""
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    table.add_column("keys", style="bold", no_wrap=True, width=10)
    table.add_column("what", ratio=1)
    table.add_column("id", style="dim", no_wrap=True)
    scope = ""
    for title, keys, text, action_id in actions.listing(keymap):
        if title != scope:
            table.add_row("", Text(title, style="bold underline"), "")
            scope = title
        table.add_row(Text(keys), Text(text), Text(action_id))
    table.add_row("", "", "")
    table.add_row(Text("ctrl+p", style="bold"), Text("Command palette: every action above, by name"), "")
    return table


class HelpScreen(ModalScreen[None]):
    """Opened with ?; esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical {
        width: 96;
        max-width: 96%;
        height: auto;
        max-height: 94%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen VerticalScroll { height: auto; }
    HelpScreen #help-note { color: $text-muted; height: auto; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *actions.bindings(actions.DIALOG),
        ("question_mark", "close", "Close"),
        ("q", "close", "Close"),
    ]

    def __init__(self, keymap: Mapping[str, str], config_file: str) -> None:
        super().__init__()
        self.keymap = keymap
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Keys"
            with VerticalScroll():
                yield Static(keys_table(self.keymap), id="help-keys")
            yield Static(
                f'Remap any key by its id in {self.config_file}, for example: "lesson.hint" = "f1"', id="help-note"
            )

    def action_close(self) -> None:
        self.dismiss(None)
