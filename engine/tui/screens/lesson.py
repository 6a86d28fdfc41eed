"""The lesson: the lab starting, then the steps, the instructions, the live checks and the lab panel.

Everything that takes time runs in thread workers that only post messages; the handlers below own every change
on screen. Check results arrive from the engine's watch (no button needed; `c` forces an evaluation), and when
they all pass the step is recorded and the next one offered.

Demo mode (`d`, or `driftlab start COURSE --demo`) opens a pane on a bash that the engine's DemoPlayer types
each step's solution into; the checks turn green by themselves as the cluster follows, and the next step is
played when the presenter moves on (or by itself with auto-next). Esc stops it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.containers import Center, Horizontal, Middle, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from ...checks.results import StepResult
from ...course import Step
from ...lab.demo import ENDED, FAILED, PLAYED, RAN, STOPPED, TYPING, DemoEvent, DemoSettings, ScreenShot
from ...lab.lab import CheckOutcome
from ...lab.resources_view import AgentRow, Meaning, RepoHistory, ResourceRow
from ...lab.session import LabCancelled, LabSession, PhaseEvent, StepState, block_commands, solution_markdown
from ...lab.shell import ShellLaunch
from ...lab.trust import UntrustedCourse
from .. import actions
from ..theme import meaning_colour
from ..widgets.checks_panel import ChecksPanel
from ..widgets.demo_pane import DemoPane
from ..widgets.git_panel import GitPanel
from ..widgets.gitops_panel import GitOpsPanel
from ..widgets.instructions import Instructions, step_document
from ..widgets.lab_panel import LabPanel
from ..widgets.pipeline_panel import PipelinePanel
from ..widgets.provisioning import ProvisioningProgress
from ..widgets.resources_panel import ResourcesPanel
from ..widgets.step_list import StepList
from ..widgets.terminal_pane import TerminalPane, pane_command
from .dialogs import ConfirmDialog, ErrorDialog, failure_message

if TYPE_CHECKING:
    from ...lab.demo import DemoPlayer
    from ...lab.feeds import GitFeed, GitOpsFeed, PipelineFeed, ResourceFeed
    from ...lab.session import StepWatch
    from ...pipeline import LogLine, Run

MIN_TIMER = 0.01  # Textual's timers need a positive interval
FAILURE_TITLES = {
    "start": "The lab cannot start",
    "step": "The step cannot be shown",
    "watch": "The checks cannot run",
    "complete": "The step could not be recorded",
    "help": "That did not work",
    "reset": "The step could not be reset",
    "shell": "The shell cannot start",
    "feeds": "The lab panel cannot read the lab",
    "demo": "The demo cannot start",
    "demo-play": "The demo cannot play this step",
}


class LessonScreen(Screen[None]):
    """One course's lesson; closing it (esc) returns to the picker and leaves the lab running."""

    DEFAULT_CSS = """
    LessonScreen { background: $background; }
    LessonScreen #breadcrumb { height: 1; padding: 0 1; background: $panel; }
    LessonScreen #provisioning-area { height: 1fr; }
    LessonScreen #body { height: 1fr; display: none; }
    LessonScreen.-ready #body { display: block; }
    LessonScreen.-ready #provisioning-area { display: none; }
    LessonScreen #steps { width: 26; height: 1fr; }
    LessonScreen #main { width: 1fr; }
    LessonScreen #top { height: 3fr; }
    LessonScreen #center { width: 3fr; }
    LessonScreen #instructions { height: 1fr; }
    LessonScreen #checks { width: 2fr; height: 1fr; max-height: 100%; }
    LessonScreen #lab { height: 2fr; }
    LessonScreen #flash { height: 1; padding: 0 1; color: $text-muted; }
    LessonScreen #flash.-warning { color: $status-pending; }
    LessonScreen #flash.-error { color: $status-error; }
    LessonScreen #flash.-success { color: $status-ok; }
    LessonScreen.-narrow #steps { display: none; }
    LessonScreen.-narrow #checks { width: 1fr; }
    LessonScreen.-demo #instructions { height: 2fr; }
    LessonScreen #demo-pane { height: 3fr; }
    """
    BINDINGS = actions.bindings(actions.LESSON)
    SCOPE = actions.LESSON

    # Messages from workers, watches and feeds --------------------------------------------------------------

    class PhaseChanged(Message):
        def __init__(self, event: PhaseEvent) -> None:
            super().__init__()
            self.event = event

    class LabReady(Message):
        def __init__(self, step: Step, terminal: list[str] | None) -> None:
            super().__init__()
            self.step = step
            self.terminal = terminal

    class StepShown(Message):
        def __init__(
            self, step: Step, document: str, states: list[StepState], passed: bool, watch: StepWatch, note: str = ""
        ) -> None:
            super().__init__()
            self.step = step
            self.document = document
            self.states = states
            self.passed = passed
            self.watch = watch
            self.note = note

    class ChecksUpdated(Message):
        def __init__(self, step_id: str, result: StepResult) -> None:
            super().__init__()
            self.step_id = step_id
            self.result = result

        def can_replace(self, message: Message) -> bool:
            """Only the newest results of a step matter; older ones still queued are dropped."""
            return isinstance(message, LessonScreen.ChecksUpdated) and message.step_id == self.step_id

    class StepRecorded(Message):
        def __init__(self, step: Step, outcome: CheckOutcome, states: list[StepState]) -> None:
            super().__init__()
            self.step = step
            self.outcome = outcome
            self.states = states

    class DocumentChanged(Message):
        def __init__(self, step_id: str, document: str, note: str) -> None:
            super().__init__()
            self.step_id = step_id
            self.document = document
            self.note = note

    class ShellReady(Message):
        def __init__(self, launch: ShellLaunch, commands: list[str]) -> None:
            super().__init__()
            self.launch = launch
            self.commands = commands

    class ResourcesUpdated(Message):
        def __init__(self, rows: list[ResourceRow]) -> None:
            super().__init__()
            self.rows = rows

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LessonScreen.ResourcesUpdated)

    class ConnectionChanged(Message):
        def __init__(self, connected: bool, message: str) -> None:
            super().__init__()
            self.connected = connected
            self.message = message

    class GitUpdated(Message):
        def __init__(self, histories: list[RepoHistory]) -> None:
            super().__init__()
            self.histories = histories

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LessonScreen.GitUpdated)

    class RunsUpdated(Message):
        def __init__(self, runs: list[Run]) -> None:
            super().__init__()
            self.runs = runs

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LessonScreen.RunsUpdated)

    class LogUpdated(Message):
        def __init__(self, run_id: int, lines: list[LogLine], fresh: bool) -> None:
            super().__init__()
            self.run_id = run_id
            self.lines = lines
            self.fresh = fresh

    class AgentsUpdated(Message):
        def __init__(self, rows: list[AgentRow]) -> None:
            super().__init__()
            self.rows = rows

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LessonScreen.AgentsUpdated)

    class AgentsConnection(Message):
        def __init__(self, connected: bool, message: str) -> None:
            super().__init__()
            self.connected = connected
            self.message = message

    class DemoOpened(Message):
        """A demo's player started; `run` tells demos apart (one stopped and another started)."""

        def __init__(self, player: DemoPlayer, run: int) -> None:
            super().__init__()
            self.player = player
            self.run = run

    class DemoScreen(Message):
        def __init__(self, shot: ScreenShot, run: int) -> None:
            super().__init__()
            self.shot = shot
            self.run = run

        def can_replace(self, message: Message) -> bool:
            """Only the newest picture of the demo's screen matters."""
            return isinstance(message, LessonScreen.DemoScreen) and message.run == self.run

    class DemoChanged(Message):
        def __init__(self, event: DemoEvent, run: int) -> None:
            super().__init__()
            self.event = event
            self.run = run

    # Set up ------------------------------------------------------------------------------------------------

    def __init__(
        self,
        session: LabSession,
        clock: Callable[[], float],
        *,
        terminal: bool = False,
        demo: DemoSettings | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.want_terminal = terminal
        self.demo_settings = demo or DemoSettings()
        self.demo_on = False
        self.demo_run = 0
        self.demo: DemoPlayer | None = None
        self.step: Step | None = None
        self.ready = False
        self.completing = False
        self.disconnected = False
        self.cancel = threading.Event()
        self.watch: StepWatch | None = None
        self.feeds: list[ResourceFeed | GitFeed | PipelineFeed | GitOpsFeed] = []
        self.pipeline_feed: PipelineFeed | None = None
        self.retry: Callable[[], object] = self.start_lab

    def compose(self) -> ComposeResult:
        yield Static(self._breadcrumb(), id="breadcrumb")
        with Middle(id="provisioning-area"), Center():
            yield ProvisioningProgress(self.session.course.title, id="provisioning")
        with Horizontal(id="body"):
            yield StepList(id="steps")
            with Vertical(id="main"):
                with Horizontal(id="top"):
                    with Vertical(id="center"):
                        yield Instructions(id="instructions")
                    yield ChecksPanel(id="checks")
                yield LabPanel(self.clock, self.session.has_repos, self.session.agents, id="lab")
        yield Static("", id="flash")
        yield Footer()

    def on_mount(self) -> None:
        self.start_lab()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")

    def on_unmount(self) -> None:
        self._stop_live(final=True)

    # Starting the lab ---------------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="start", exclusive=True)
    def start_lab(self) -> None:
        self.retry = self.start_lab
        self.session.start(lambda event: self.post_message(self.PhaseChanged(event)), self.cancel)
        step = self.session.current() or self.session.course.steps[-1]
        terminal = None
        if self.want_terminal:
            launch = self.session.shell()
            terminal = pane_command(launch.args, launch.env, Path.cwd())
        self.post_message(self.LabReady(step, terminal))

    @on(PhaseChanged)
    def _phase(self, message: PhaseChanged) -> None:
        self.query_one(ProvisioningProgress).show(message.event)

    @on(LabReady)
    async def _lab_ready(self, message: LabReady) -> None:
        self.ready = True
        self.add_class("-ready")
        if message.terminal is not None:
            await self.query_one("#center", Vertical).mount(TerminalPane(message.terminal, id="terminal-pane"))
        self.show_step(
            message.step, note=f"The lab is ready: work in it with ! or run `driftlab shell {self.session.course_arg}`"
        )
        self.start_feeds()
        self.query_one(Instructions).focus()
        if self.demo_settings.autostart:
            await self.begin_demo()

    # Showing a step -----------------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="step", exclusive=True)
    def show_step(self, step: Step, go: bool = False, note: str = "") -> None:
        """Make `step` the one on screen (with `go`, the current one too, running its setup) and watch it."""
        self.retry = lambda: self.show_step(step, go, note)
        self._stop_watch()
        if go:
            self.session.go_to(step)
        shown = self._shown(step)
        if get_current_worker().is_cancelled:
            shown[3].stop()  # a later step was asked for meanwhile
            return
        self.post_message(self.StepShown(step, *shown, note=note))

    def _shown(self, step: Step) -> tuple[str, list[StepState], bool, StepWatch]:
        """What StepShown carries besides the step: its document, the step list, whether it passed, its watch."""
        watch = self.session.watch(step, lambda result: self.post_message(self.ChecksUpdated(step.id, result)))
        return self._document(step), self.session.step_states(step), self.session.passed(step), watch

    def _document(self, step: Step) -> str:
        solution = solution_markdown(step) if self.session.solution_shown(step) else None
        instructions = self.session.instructions(step)
        return step_document(instructions, self.session.hints(step), len(step.hints), solution)

    @on(StepShown)
    async def _step_shown(self, message: StepShown) -> None:
        self.step = message.step
        previous, self.watch = self.watch, message.watch
        if previous is not None and previous is not message.watch:
            threading.Thread(target=previous.stop, name="stop-step-watch", daemon=True).start()
        self.completing = False
        self.query_one(StepList).show(message.states)
        await self.query_one(Instructions).show(message.document)
        checks = self.query_one(ChecksPanel)
        checks.waiting("Checking…" if message.step.checks else "This step has no checks.")
        checks.set_class(message.passed, "-recorded")
        if message.passed:
            checks.passed(self._done_banner(message.step))
        if message.watch.latest is not None:
            # The watch's first result may have arrived before this step was on screen.
            self._checks_updated(self.ChecksUpdated(message.step.id, message.watch.latest))
        self.query_one("#breadcrumb", Static).update(self._breadcrumb())
        self.flash(message.note, "success" if message.note else "info")
        if self.demo is not None:
            self.play(message.step, message.passed)

    @on(ChecksUpdated)
    def _checks_updated(self, message: ChecksUpdated) -> None:
        if self.step is None or message.step_id != self.step.id:
            return
        checks = self.query_one(ChecksPanel)
        checks.show(message.result)
        if message.result.passed and not self.completing and not checks.has_class("-recorded"):
            self.completing = True
            self.record(self.step)

    @work(thread=True, exit_on_error=False, group="complete", exclusive=True)
    def record(self, step: Step) -> None:
        outcome = self.session.complete(step)
        if outcome.passed:
            self._stop_watch()
        self.post_message(self.StepRecorded(step, outcome, self.session.step_states(step)))

    @on(StepRecorded)
    def _step_recorded(self, message: StepRecorded) -> None:
        self.completing = False
        outcome = message.outcome
        if self.step is None or message.step.id != self.step.id or not outcome.passed:
            return
        self.query_one(StepList).show(message.states)
        checks = self.query_one(ChecksPanel)
        checks.add_class("-recorded")
        checks.passed(self._done_banner(message.step))
        if outcome.finished:
            self.flash("Course complete: every step passed. Well done!", "success")
        elif self.demo is not None and self.demo_settings.auto_next:
            self.flash(f"Step {self.session.position(message.step)} done ✓ — the demo goes on by itself", "success")
            pause = max(self.demo_settings.rhythm.pause("next_step"), MIN_TIMER)
            self.set_timer(pause, lambda: self._auto_next(message.step))
        else:
            self.flash(f"Step {self.session.position(message.step)} done ✓ — press n for the next one", "success")
        if outcome.setup_error:
            self.app.push_screen(ErrorDialog("The next step could not be set up", outcome.setup_error))

    def _done_banner(self, step: Step) -> str:
        following = self.session.following(step)
        if following is None:
            return "✓ Course complete: every step passed."
        return f"✓ Step done. Press n for step {self.session.position(following)}: {following.title}"

    # Actions -----------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Lesson keys appear once the lab is ready; the terminal key only with a terminal pane shown."""
        if action == "back":
            return True
        if action == "toggle_terminal":
            return bool(self.query("#terminal-pane")) and not self.demo_on
        return self.ready

    def action_check(self) -> None:
        if self.watch is not None:
            self.watch.trigger()
            self.flash("Checking now…")

    def action_hint(self) -> None:
        if self.step is None:
            return
        if not self.step.hints:
            self.flash("This step has no hints.", "warning")
            return
        if len(self.session.hints(self.step)) >= len(self.step.hints):
            self.flash("Every hint of this step is shown already.", "warning")
            return
        self.reveal_hint(self.step)

    @work(thread=True, exit_on_error=False, group="help")
    def reveal_hint(self, step: Step) -> None:
        shown = self.session.reveal_hint(step)
        note = f"Hint {len(shown)} of {len(step.hints)} is at the end of the instructions."
        self.post_message(self.DocumentChanged(step.id, self._document(step), note))

    def action_solution(self) -> None:
        step = self.step
        if step is None:
            return
        if self.session.solution_shown(step):
            self.show_solution(step)
            return
        message = (
            "The solution shows every command of this step. Try the hints first (h): "
            "you learn more by finding it yourself. Show the solution anyway?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.show_solution(step)

        self.app.push_screen(ConfirmDialog("Show the solution?", message, "Show solution"), answered)

    @work(thread=True, exit_on_error=False, group="help")
    def show_solution(self, step: Step) -> None:
        self.session.solution(step)
        self.post_message(self.DocumentChanged(step.id, self._document(step), "The solution is at the end."))

    @on(DocumentChanged)
    async def _document_changed(self, message: DocumentChanged) -> None:
        if self.step is None or message.step_id != self.step.id:
            return
        instructions = self.query_one(Instructions)
        await instructions.show(message.document, keep_place=True)
        instructions.scroll_end(animate=False)
        self.flash(message.note)

    def action_next(self) -> None:
        target = self.session.following(self.step) if self.step is not None else None
        if target is None:
            self.flash("This is the last step.", "warning")
            return
        self.flash(f"Going to step {self.session.position(target)}…")
        self.show_step(target, go=True)

    def action_previous(self) -> None:
        target = self.session.preceding(self.step) if self.step is not None else None
        if target is None:
            self.flash("This is the first step.", "warning")
            return
        self.show_step(target, go=True)

    @on(StepList.Chosen)
    def _step_chosen(self, message: StepList.Chosen) -> None:
        if self.step is not None and message.step_id != self.step.id:
            self.show_step(self.session.course.step(message.step_id), go=True)

    def action_reset(self) -> None:
        if self.step is None:
            return
        message = (
            "Reset deletes the lab's namespaces, seeds them again and runs the setup of every step up to this "
            "one. What you created in them is lost. Reset?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.flash("Resetting the step…")
                self.query_one(ChecksPanel).waiting("Resetting…")
                self.reset_step()

        self.app.push_screen(ConfirmDialog("Reset this step?", message, "Reset"), answered)

    @work(thread=True, exit_on_error=False, group="reset", exclusive=True)
    def reset_step(self) -> None:
        self.retry = self.reset_step
        self._stop_watch()
        self.session.reset()
        step = self.session.current() or self.session.course.steps[-1]
        self.post_message(self.StepShown(step, *self._shown(step), note="The step is back at its start."))

    def action_shell(self) -> None:
        self.open_shell(None)

    def action_send_block(self) -> None:
        code = self.query_one(Instructions).selected_code()
        if code is None:
            self.flash("This step has no code blocks.", "warning")
            return
        panes = self.query(TerminalPane)
        if panes:
            panes.first().send(code)
            panes.first().terminal.focus()
            self.flash("Sent to the terminal: press Enter there to run it.")
            return
        self.open_shell(code)

    @work(thread=True, exit_on_error=False, group="shell")
    def open_shell(self, code: str | None) -> None:
        if code is None:
            self.post_message(self.ShellReady(self.session.shell(), []))
        else:
            self.post_message(self.ShellReady(self.session.block_launch(code), block_commands(code)))

    @on(ShellReady)
    def _shell_ready(self, message: ShellReady) -> None:
        launch = message.launch
        try:
            with self.app.suspend():
                print(f"{launch.marker} kubectl and git now talk to the lab; type `exit` to come back", flush=True)
                if message.commands:
                    print("The selected block is in this shell's history: ↑ recalls its commands, newest first:")
                    print("".join(f"    {command}\n" for command in message.commands), flush=True)
                subprocess.run(launch.args, env={**os.environ, **launch.env}, check=False)
        except SuspendNotSupported:
            command = f"driftlab shell {self.session.course_arg}"
            self.flash(f"This terminal cannot hand over to a shell; run: {command}", "error")
            return
        except OSError as err:
            self.app.push_screen(ErrorDialog("The shell cannot start", f"{launch.program}: {err.strerror or err}"))
            return
        self.action_check()

    def action_copy_block(self) -> None:
        code = self.query_one(Instructions).selected_code()
        if code is None:
            self.flash("This step has no code blocks.", "warning")
            return
        self.app.copy_to_clipboard(code)
        self.flash("Copied the code block to the clipboard.")

    def action_next_block(self) -> None:
        self.query_one(Instructions).select(1)

    def action_previous_block(self) -> None:
        self.query_one(Instructions).select(-1)

    def action_toggle_terminal(self) -> None:
        panes = self.query(TerminalPane)
        if not panes:
            return
        if panes.first().terminal.has_focus:
            self.query_one(Instructions).focus()
        else:
            panes.first().terminal.focus()

    def action_next_lab_tab(self) -> None:
        self.query_one(LabPanel).cycle()

    def action_back(self) -> None:
        if self.demo_on:
            self.end_demo()
            return
        if not self.ready and not self.cancel.is_set() and self._starting():
            self.cancel.set()
            self.query_one(ProvisioningProgress).note("cancelling: stopping after the current phase…")
            self.flash("Cancelling…", "warning")
            return
        self.dismiss(None)

    def _starting(self) -> bool:
        return any(worker.group == "start" and worker.is_running for worker in self.workers)

    # Demo mode ---------------------------------------------------------------------------------------------

    def action_demo(self) -> None:
        if self.demo_on:
            self.end_demo()
            return
        message = (
            "Demo mode types this step's solution into a shell, key by key, and runs it in the lab, as a presenter "
            "would on stage. The checks turn green as the cluster follows; n plays the next step; d or esc stops "
            "the demo. Start it?"
        )

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.begin_demo()

        self.app.push_screen(ConfirmDialog("Play this step's solution?", message, "Start demo"), answered)

    async def begin_demo(self) -> None:
        """Show the demo's pane (in place of the terminal pane) and start its shell once the pane has a size."""
        if self.demo_on:
            return
        self.demo_on = True
        self.demo_run += 1
        self.add_class("-demo")
        for terminal in self.query(TerminalPane):
            terminal.display = False
        pane = DemoPane(id="demo-pane")
        await self.query_one("#center", Vertical).mount(pane)
        pane.status("starting bash…")
        self.call_after_refresh(lambda: self.open_demo(*pane.screen_size, self.demo_run))
        self.flash("Demo mode: the solution is typed below; d or esc stops it.")

    @work(thread=True, exit_on_error=False, group="demo", exclusive=True)
    def open_demo(self, rows: int, columns: int, run: int) -> None:
        player = self.session.demo(
            lambda shot: self.post_message(self.DemoScreen(shot, run)),
            lambda event: self.post_message(self.DemoChanged(event, run)),
            rows=rows,
            columns=columns,
            rhythm=self.demo_settings.rhythm,
        )
        self.post_message(self.DemoOpened(player, run))

    @on(DemoOpened)
    def _demo_opened(self, message: DemoOpened) -> None:
        if not self.demo_on or message.run != self.demo_run:
            threading.Thread(target=message.player.stop, name="stop-demo", daemon=True).start()
            return
        self.demo = message.player
        if self.step is not None:
            self.play(self.step, self.query_one(ChecksPanel).has_class("-recorded"))

    @work(thread=True, exit_on_error=False, group="demo-play", exclusive=True)
    def play(self, step: Step, passed: bool) -> None:
        """Type the step's solution; a step that passed already is not typed again (typing stops)."""
        self.retry = lambda: self.play(step, passed)
        demo = self.demo
        if demo is None:
            return
        if passed:
            demo.halt()
            return
        run = self.demo_run
        actions = self.session.demo_actions(step)
        if not actions:
            demo.halt()
            event = DemoEvent(PLAYED, step.id, message="this step has no solution")
            self.post_message(self.DemoChanged(event, run))
            return
        demo.play(step.id, actions)

    @on(DemoScreen)
    def _demo_screen(self, message: DemoScreen) -> None:
        if self.demo_on and message.run == self.demo_run:
            for pane in self.query(DemoPane):
                pane.show(message.shot)

    @on(DemoChanged)
    def _demo_changed(self, message: DemoChanged) -> None:
        if not self.demo_on or message.run != self.demo_run:
            return
        event = message.event
        if event.kind == ENDED:
            self.end_demo(f"The demo stopped: {event.message}.")
            return
        panes = self.query(DemoPane)
        if not panes:
            return
        pane = panes.first()
        if event.kind == TYPING:
            pane.status(f"typing {event.index} of {event.total}: {event.command}")
        elif event.kind == RAN:
            pane.status(f"ran {event.index} of {event.total}; exit code {event.exit_code}")
        elif event.kind == PLAYED:
            note = event.message or "solution played; the checks follow the cluster"
            pane.status(note, "played")
        elif event.kind == FAILED:
            pane.status(event.message, "failed")
            self.flash(f"The demo stopped: {event.message}", "error")
        elif event.kind == STOPPED:
            pane.status("typing stopped")

    @on(DemoPane.Resized)
    def _demo_resized(self, message: DemoPane.Resized) -> None:
        if self.demo is not None:
            self.demo.resize(message.rows, message.columns)

    def end_demo(self, note: str = "Demo stopped.") -> None:
        """Stop typing, close the demo's shell (off the drawing thread) and take its pane away."""
        self.demo_on = False
        player, self.demo = self.demo, None
        self.workers.cancel_group(self, "demo")
        if player is not None:
            threading.Thread(target=player.stop, name="stop-demo", daemon=True).start()
        for pane in self.query(DemoPane):
            pane.remove()
        for terminal in self.query(TerminalPane):
            terminal.display = True
        self.remove_class("-demo")
        self.flash(note)

    def _auto_next(self, step: Step) -> None:
        if self.demo is not None and self.step is not None and self.step.id == step.id:
            self.action_next()

    # The lab panel -----------------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="feeds")
    def start_feeds(self) -> None:
        session = self.session
        self.feeds.append(
            session.resources(
                lambda rows: self.post_message(self.ResourcesUpdated(rows)),
                lambda ok, text: self.post_message(self.ConnectionChanged(ok, text)),
            )
        )
        if session.has_repos:
            self.feeds.append(session.git_history(lambda history: self.post_message(self.GitUpdated(history))))
            self.pipeline_feed = session.pipelines(
                lambda runs: self.post_message(self.RunsUpdated(runs)),
                lambda run_id, lines, fresh: self.post_message(self.LogUpdated(run_id, lines, fresh)),
            )
            self.feeds.append(self.pipeline_feed)
        if session.agents:
            self.feeds.append(
                session.gitops(
                    lambda rows: self.post_message(self.AgentsUpdated(rows)),
                    lambda ok, text: self.post_message(self.AgentsConnection(ok, text)),
                )
            )

    @on(ResourcesUpdated)
    def _resources(self, message: ResourcesUpdated) -> None:
        self.query_one(ResourcesPanel).show(message.rows)

    @on(ConnectionChanged)
    def _connection(self, message: ConnectionChanged) -> None:
        self.query_one(ResourcesPanel).connection(message.connected, message.message)
        if not message.connected:
            self.disconnected = True
            restart = f"driftlab lab up {self.session.course_arg}"
            self.flash(f"Lost the connection to the lab; reconnecting… (if it was stopped: {restart})", "error")
        elif self.disconnected:
            self.disconnected = False
            self.flash("Connected to the lab again.", "success")

    @on(GitUpdated)
    def _git(self, message: GitUpdated) -> None:
        self.query_one(GitPanel).show(message.histories)

    @on(RunsUpdated)
    def _runs(self, message: RunsUpdated) -> None:
        self.query_one(PipelinePanel).show_runs(message.runs)

    @on(LogUpdated)
    def _log(self, message: LogUpdated) -> None:
        self.query_one(PipelinePanel).show_log(message.run_id, message.lines, message.fresh)

    @on(AgentsUpdated)
    def _agents(self, message: AgentsUpdated) -> None:
        self.query_one(GitOpsPanel).show(message.rows)

    @on(AgentsConnection)
    def _agents_connection(self, message: AgentsConnection) -> None:
        self.query_one(GitOpsPanel).connection(message.connected, message.message)

    @on(PipelinePanel.RunChosen)
    def _run_chosen(self, message: PipelinePanel.RunChosen) -> None:
        if self.pipeline_feed is not None:
            self.pipeline_feed.select(message.run_id)

    # Failures ----------------------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        group = event.worker.group
        if isinstance(error, LabCancelled):
            self.app.notify("Starting the lab was cancelled; its state is kept for next time.")
            self.dismiss(None)
        elif isinstance(error, UntrustedCourse):
            self._ask_trust(error)
        else:
            self._failed(group, error)

    def _failed(self, group: str, error: BaseException) -> None:
        self.completing = False
        if group == "demo":
            self.end_demo("The demo could not start.")
        title = FAILURE_TITLES.get(group, "That did not work")
        self.flash(f"{title}: {(str(error).splitlines() or [''])[0]}", "error")

        def closed(_: bool | None) -> None:
            if group == "start":
                self.dismiss(None)

        self.app.push_screen(ErrorDialog(title, failure_message(error)), closed)

    def _ask_trust(self, error: UntrustedCourse) -> None:
        listing = "\n".join(item.describe() for item in error.code[:12])
        more = f"\n… and {len(error.code) - 12} more" if len(error.code) > 12 else ""
        message = (
            f"{self.session.course.title} is not one of driftlab's own courses, and it runs these shell commands "
            f"on this machine:\n\n{listing}{more}\n\nRun them only if you trust where the course comes from."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.session.trust()
                self.retry()
            elif not self.ready:
                self.dismiss(None)

        self.app.push_screen(ConfirmDialog("Trust this course?", message, "Trust and continue"), answered)

    # Helpers -----------------------------------------------------------------------------------------------

    def flash(self, text: str, level: str = "info") -> None:
        """The one-line message area under the panels (k9s' flash)."""
        flash = self.query_one("#flash", Static)
        for name in ("warning", "error", "success"):
            flash.set_class(level == name, f"-{name}")
        flash.update(text)

    def _breadcrumb(self) -> Text:
        course = self.session.course
        text = Text.assemble(("driftlab", "bold"), " ▸ ", (course.title, "bold"))
        if self.step is not None:
            text.append(f" ▸ step {self.session.position(self.step)} of {len(course.steps)}: {self.step.title}")
        state = "lab ready" if self.ready else "starting the lab…"
        colour = meaning_colour(self.app, Meaning.OK if self.ready else Meaning.PENDING)
        text.append("   ")
        text.append(f"● {state}", style=colour)
        return text

    def _stop_watch(self) -> None:
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.stop()

    def _stop_live(self, final: bool = False) -> None:
        """Stop the watch and the feeds off the drawing thread (stopping joins their threads)."""
        live: Sequence[Any] = [*([self.watch] if self.watch else []), *self.feeds, *([self.demo] if self.demo else [])]
        self.watch, self.feeds, self.demo = None, [], None
        if final:
            self.cancel.set()
        if live:
            threading.Thread(target=lambda: [item.stop() for item in live], name="stop-lab-feeds", daemon=True).start()
