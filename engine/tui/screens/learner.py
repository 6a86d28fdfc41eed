"""The first screen of a workshop session: the learner's name, which keeps their labs and progress apart from
everyone else's and brings them back after a reload."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Middle, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ..workshop import LEARNER_NAME_MAX, learner_name_problem

PROMPT = (
    "Your name, as lowercase letters, digits and '-' (for example ada or ada-lovelace).\n"
    "Your labs and your progress are kept under it: type the same name again after a reload to carry on."
)


class LearnerScreen(Screen[str]):
    """Asks the learner's name; dismissed with a valid one. A wrong name is refused with what is wrong."""

    DEFAULT_CSS = """
    LearnerScreen { background: $background; }
    LearnerScreen #learner-title { height: 1; padding: 0 1; background: $panel; color: $text; }
    LearnerScreen #learner-box {
        width: 76;
        max-width: 95%;
        height: auto;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
        padding: 1 2;
    }
    LearnerScreen #learner-prompt { height: auto; margin-bottom: 1; }
    LearnerScreen #learner-problem { height: auto; min-height: 1; color: $error; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("driftlab", "bold"), "  ·  workshop"), id="learner-title")
        with Middle(), Center(), Vertical(id="learner-box") as box:
            box.border_title = "Who are you?"
            yield Static(PROMPT, id="learner-prompt", markup=False)
            yield Input(placeholder="your name", max_length=LEARNER_NAME_MAX + 10, id="learner-name")
            yield Static("", id="learner-problem", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#learner-name", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#learner-problem", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        problem = learner_name_problem(name)
        if problem is not None:
            self.query_one("#learner-problem", Static).update(problem)
            return
        self.dismiss(name)
