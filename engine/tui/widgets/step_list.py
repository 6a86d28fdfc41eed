"""The course's steps with a status icon each: ✓ passed, ▶ on screen (not passed yet), · still to do."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...lab.resources_view import Meaning
from ...lab.session import PASSED_STEP, StepState
from ..theme import meaning_colour


class StepList(OptionList):
    """Choosing a step (enter or a click) posts StepList.Chosen; the screen decides what happens."""

    DEFAULT_CSS = """
    StepList {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        background: $surface;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    StepList:focus { border: round $primary; }
    """

    class Chosen(Message):
        """The learner chose a step to go to."""

        def __init__(self, step_id: str) -> None:
            super().__init__()
            self.step_id = step_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Steps"
        self._states: list[StepState] = []

    def show(self, states: Sequence[StepState]) -> None:
        if list(states) == self._states:
            return
        self._states = list(states)
        self.set_options(Option(self._label(state), id=state.id) for state in states)
        current = next((index for index, state in enumerate(states) if state.shown), None)
        if current is not None:
            self.highlighted = current
        done = sum(1 for state in states if state.state == PASSED_STEP)
        self.border_subtitle = f"{done}/{len(states)} done"

    def _label(self, state: StepState) -> Text:
        if state.state == PASSED_STEP:
            icon, meaning = "✓", Meaning.OK
        else:
            icon, meaning = ("▶", "added") if state.shown else ("·", Meaning.NEUTRAL)
        label = Text(no_wrap=True, overflow="ellipsis")
        label.append(f"{icon} ", style=f"bold {meaning_colour(self.app, meaning)}")
        label.append(f"{state.number}. {state.title}", style="bold" if state.shown else "")
        return label

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))
