"""Small modal windows: confirm a destructive action, explain a failure. Esc always closes."""

from __future__ import annotations

import logging

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...errors import DriftlabError
from .. import actions

log = logging.getLogger(__name__)

DIALOG_CSS = """
Dialog {
    align: center middle;
    background: $background 60%;
}
Dialog > Vertical {
    width: 72;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: round $primary;
    border-title-color: $text;
    border-title-style: bold;
    background: $surface;
    padding: 1 2;
}
Dialog.-error > Vertical { border: round $error; border-title-color: $error; }
Dialog .dialog-message { height: auto; }
Dialog VerticalScroll { height: auto; max-height: 24; }
Dialog .dialog-buttons { height: auto; margin-top: 1; align-horizontal: right; }
Dialog Button { margin-left: 2; min-width: 10; }
"""


class Dialog(ModalScreen[bool]):
    """A title, a message and buttons; dismissed with True (the main button) or False (cancel or esc)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = actions.bindings(actions.DIALOG)

    def __init__(self, title: str, message: str, *, confirm: str = "OK", cancel: str | None = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm
        self.cancel_label = cancel

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = self.title_text
            with VerticalScroll(can_focus=False):
                yield Static(self.message, classes="dialog-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                if self.cancel_label is not None:
                    yield Button(self.cancel_label, id="cancel")
                yield Button(self.confirm_label, id="confirm", variant=self.confirm_variant)

    @property
    def confirm_variant(self) -> str:
        return "primary"

    @property
    def initial_focus(self) -> str:
        """The button Enter presses at first."""
        return "confirm"

    def on_mount(self) -> None:
        self.query_one(f"#{self.initial_focus}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_close(self) -> None:
        self.dismiss(False)


class ConfirmDialog(Dialog):
    """Asks before something that cannot be undone (reset) or spoils the exercise (the solution)."""

    def __init__(self, title: str, message: str, confirm: str) -> None:
        super().__init__(title, message, confirm=confirm, cancel="Cancel")

    @property
    def initial_focus(self) -> str:
        return "cancel"

    @property
    def confirm_variant(self) -> str:
        return "warning"


class ErrorDialog(Dialog):
    """A failure, explained: what went wrong and what to do. Never a traceback."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(title, message, confirm="OK", cancel=None)
        self.add_class("-error")

    @property
    def confirm_variant(self) -> str:
        return "error"


def failure_message(error: BaseException) -> str:
    """What the learner reads about a failure: driftlab's own message, or a short note and where details are."""
    if isinstance(error, DriftlabError):
        return str(error)
    log.error("unexpected failure in the TUI", exc_info=error)
    return (
        f"Something unexpected went wrong: {type(error).__name__}: {error}\n\n"
        "This is a bug in driftlab; the details are in tui.log in driftlab's home folder."
    )
