"""The lab starting up: one line per phase (cluster, seed, Git server, GitOps agent, step setup) and its state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...lab.resources_view import Meaning
from ...lab.session import DONE, FAILED, PHASE_TITLES, PHASES, RUNNING, SKIPPED, PhaseEvent
from ..theme import meaning_colour

ICONS = {RUNNING: "◐", DONE: "✓", SKIPPED: "–", FAILED: "✗", "waiting": "·"}
MEANINGS = {RUNNING: Meaning.PENDING, DONE: Meaning.OK, SKIPPED: Meaning.NEUTRAL, FAILED: Meaning.ERROR}


class ProvisioningProgress(Vertical):
    """Shows how far starting the lab got; `show(event)` moves one phase on."""

    DEFAULT_CSS = """
    ProvisioningProgress {
        width: 72;
        max-width: 100%;
        height: auto;
        border: round $primary;
        border-title-color: $text;
        padding: 1 2;
        background: $surface;
    }
    ProvisioningProgress .phase { height: 1; }
    ProvisioningProgress #provisioning-note { margin-top: 1; color: $text-muted; }
    ProvisioningProgress.-failed { border: round $error; }
    """

    def __init__(self, course_title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.course_title = course_title
        self.states: dict[str, PhaseEvent] = {}

    def compose(self) -> ComposeResult:
        self.border_title = f"Starting the lab of {self.course_title}"
        for phase in PHASES:
            yield Static(self._line(phase), id=f"phase-{phase}", classes="phase")
        yield Static("esc cancels", id="provisioning-note")

    def show(self, event: PhaseEvent) -> None:
        self.states[event.phase] = event
        if event.phase in PHASES:
            self.query_one(f"#phase-{event.phase}", Static).update(self._line(event.phase))
        if event.state == FAILED:
            self.add_class("-failed")
            self.note("the lab could not start")

    def note(self, text: str) -> None:
        self.query_one("#provisioning-note", Static).update(text)

    def _line(self, phase: str) -> Text:
        event = self.states.get(phase)
        state = event.state if event is not None else "waiting"
        colour = meaning_colour(self.app, MEANINGS.get(state, Meaning.NEUTRAL))
        line = Text()
        line.append(f"{ICONS.get(state, '·')} ", style=f"bold {colour}")
        line.append(f"{PHASE_TITLES[phase]:<14}", style="bold" if state == RUNNING else "")
        detail = event.detail if event is not None and event.detail else _word(state)
        line.append(detail, style="dim" if state in (SKIPPED, "waiting") else "")
        return line


def _word(state: str) -> str:
    return {RUNNING: "starting…", DONE: "ready", SKIPPED: "not needed", FAILED: "failed", "waiting": "waiting"}[state]
