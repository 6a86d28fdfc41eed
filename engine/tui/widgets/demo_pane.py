"""The demo's terminal: the screen of the bash that demo mode types into, as the engine's emulator reads it.

The engine (engine.lab.demo) runs the shell, the typing and the VT100 emulation; this pane only draws the
`ScreenShot`s it is handed and says how big it is, so the shell's screen can match it. It needs no optional
package. It takes no keys: the demo types, the presenter talks.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from ...lab.demo import Run, ScreenShot

MIN_ROWS, MIN_COLUMNS = 3, 20


def run_style(run: Run) -> Style:
    """A run's look; the terminal's default colours are left to the pane's own."""
    return Style(
        color=run.fg or None,
        bgcolor=run.bg or None,
        bold=run.bold or None,
        italic=run.italic or None,
        underline=run.underline or None,
        reverse=run.reverse or None,
    )


def screen_text(shot: ScreenShot, width: int, height: int) -> Text:
    """The screen as Rich text of `height` lines cropped to `width`, the cursor drawn in reverse video."""
    text = Text(no_wrap=True, overflow="crop")
    for y in range(min(height, len(shot.lines))):
        if y:
            text.append("\n")
        line = Text(no_wrap=True, overflow="crop")
        for run in shot.lines[y]:
            line.append(run.text, run_style(run))
        if shot.cursor is not None and shot.cursor[1] == y and shot.cursor[0] < width:
            x = shot.cursor[0]
            if x >= line.cell_len:
                line.append(" " * (x - line.cell_len + 1))
            line.stylize("reverse", x, x + 1)
        line.truncate(width)
        text.append_text(line)
    return text


class ScreenView(Widget):
    """Draws the latest ScreenShot; posts DemoPane.Resized when its size changes."""

    DEFAULT_CSS = """
    ScreenView { height: 1fr; background: $background; color: $text; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shot: ScreenShot | None = None

    def show(self, shot: ScreenShot) -> None:
        self.shot = shot
        self.refresh()

    def render(self) -> RenderResult:
        if self.shot is None:
            return Text("Starting bash for the demo…", style="dim")
        return screen_text(self.shot, self.size.width, self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(DemoPane.Resized(*fitted(event.size.height, event.size.width)))


def fitted(rows: int, columns: int) -> tuple[int, int]:
    """A screen size the shell can use (never smaller than a few lines of a few words)."""
    return max(rows, MIN_ROWS), max(columns, MIN_COLUMNS)


class DemoPane(Vertical):
    """The demo's screen in a frame whose subtitle says what the demo is doing."""

    DEFAULT_CSS = """
    DemoPane {
        height: 1fr;
        min-height: 6;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
    }
    DemoPane.-failed { border: round $status-error; border-subtitle-color: $status-error; }
    DemoPane.-played { border-subtitle-color: $status-ok; }
    """

    class Resized(Message):
        """The pane's screen is now `rows` × `columns`."""

        def __init__(self, rows: int, columns: int) -> None:
            super().__init__()
            self.rows = rows
            self.columns = columns

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Demo"

    def compose(self) -> ComposeResult:
        yield ScreenView(id="demo-screen")

    def show(self, shot: ScreenShot) -> None:
        for view in self.query(ScreenView):
            view.show(shot)

    def status(self, text: str, state: str = "") -> None:
        """The subtitle; `state` is "", "played" or "failed"."""
        self.border_subtitle = text
        self.set_class(state == "played", "-played")
        self.set_class(state == "failed", "-failed")

    @property
    def screen_size(self) -> tuple[int, int]:
        """(rows, columns) of the screen as laid out now."""
        size = self.query_one(ScreenView).size
        return fitted(size.height, size.width)
