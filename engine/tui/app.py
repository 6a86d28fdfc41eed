"""The driftlab app: the course picker first (or a course straight away), the lesson on top of it.

The app only routes: it reads the catalogue and opens courses in workers, pushes screens, offers every action in
the command palette, and turns failures into dialogs. The engine (engine.lab.session) does the work.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.worker import Worker, WorkerState

from ..errors import DriftlabError
from ..lab.catalogue import CourseCard, course_catalogue, quick_catalogue
from ..lab.progress import ProgressStore
from . import actions, theme, workshop
from .actions import ActionSpec, KeymapError
from .screens.dialogs import ErrorDialog, failure_message
from .screens.help import HelpScreen
from .screens.learner import LearnerScreen
from .screens.picker import PickerScreen
from .widgets.terminal_pane import terminal_available

if TYPE_CHECKING:
    from ..cluster.embedded.settings import PodTimings
    from ..lab.demo import DemoSettings
    from ..lab.session import LabSession

SessionFactory = Callable[[str], "LabSession"]
Catalogue = Callable[[], list[CourseCard]]
LearnerHook = Callable[[Path], object]


class ActionCommands(Provider):
    """The command palette: every action of the screen on show (and the app's), by name, with its key."""

    def _specs(self) -> Iterable[ActionSpec]:
        scope = getattr(self.screen, "SCOPE", None)
        specs = actions.actions(actions.APP) + (actions.actions(scope) if scope else [])
        for spec in specs:
            target = self.app if spec.scope == actions.APP else self.screen
            name = spec.action.removeprefix("app.")
            if spec.palette and target.check_action(name, ()) is True:
                yield spec

    def _run(self, spec: ActionSpec) -> Callable[[], object]:
        return partial(self.screen.run_action, spec.action)

    def _help(self, spec: ActionSpec) -> str:
        keymap = getattr(self.app, "keymap", {})
        return f"{spec.tooltip}  ({actions.key_label(keymap.get(spec.id, spec.key))})"

    async def discover(self) -> Hits:
        for spec in self._specs():
            yield DiscoveryHit(spec.description, self._run(spec), help=self._help(spec))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in self._specs():
            score = max(matcher.match(spec.description), matcher.match(spec.tooltip) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(spec.description), self._run(spec), help=self._help(spec))


class DriftlabApp(App[None]):
    """`course` opens that course at once; `demo` sets demo mode up for the lessons (`driftlab start --demo`);
    `workshop` asks the learner's name first and keeps all state in that learner's folder (`on_learner` is told
    the folder); `session_factory` and `catalogue` replace the engine in tests."""

    TITLE = "driftlab"
    COMMANDS = App.COMMANDS | {ActionCommands}
    BINDINGS = actions.bindings(actions.APP)

    class CatalogueRead(Message):
        def __init__(self, cards: list[CourseCard]) -> None:
            super().__init__()
            self.cards = cards

    class SessionOpened(Message):
        def __init__(self, session: LabSession) -> None:
            super().__init__()
            self.session = session

    def __init__(
        self,
        *,
        course: str | None = None,
        trusted: bool = False,
        courses_root: Path | None = None,
        store: ProgressStore | None = None,
        timings: PodTimings | None = None,
        clock: Callable[[], float] = time.time,
        keymap_file: Path | None = None,
        session_factory: SessionFactory | None = None,
        catalogue: Catalogue | None = None,
        terminal: bool | None = None,
        demo: DemoSettings | None = None,
        workshop: bool = False,
        on_learner: LearnerHook | None = None,
    ) -> None:
        super().__init__()
        self.course = course
        self.trusted = trusted
        self.courses_root = courses_root
        self.workshop = workshop
        self.on_learner = on_learner
        self.learner: str | None = None
        self._given_store = store
        self._given_keymap_file = keymap_file
        self.store: ProgressStore
        self.keymap_file = keymap_file if keymap_file is not None else actions.keymap_path()
        # In a workshop, state is only read once the learner said who they are (_learner_chosen).
        if not workshop:
            self._use_state()
        self.timings = timings
        self.clock = clock
        self.session_factory = session_factory or self._load_session
        self.catalogue = catalogue or (lambda: course_catalogue(self.courses_root, self.store))
        self.quick_catalogue = None if catalogue else (lambda: quick_catalogue(self.courses_root, self.store))
        self.terminal = terminal_available() if terminal is None else terminal
        self.demo = demo
        self.keymap: dict[str, str] = {}
        self.opened: list[str] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **theme.variable_defaults()}

    def _use_state(self) -> None:
        """Open the progress store and find the key bindings, in whatever driftlab home is in force now."""
        self.store = self._given_store if self._given_store is not None else ProgressStore()
        self.keymap_file = self._given_keymap_file if self._given_keymap_file is not None else actions.keymap_path()

    def on_mount(self) -> None:
        self.register_theme(theme.DRIFTLAB_THEME)
        self.theme = theme.DRIFTLAB_THEME.name
        if self.workshop:
            self.push_screen(LearnerScreen(), self._learner_chosen)
        else:
            self._begin()

    def _learner_chosen(self, name: str | None) -> None:
        """The learner's folder becomes driftlab's home for this process (and the labs it starts), then the
        app goes on as it does for a single learner. A folder that cannot be made is explained, and asked again."""
        if name is None:
            return
        saved = workshop.saved_environment()
        try:
            folder = workshop.enter_learner(name)
            self._use_state()
        except (OSError, ValueError, DriftlabError, sqlite3.Error) as err:
            workshop.restore_environment(saved)
            self.push_screen(LearnerScreen(), self._learner_chosen)
            self.push_screen(ErrorDialog("Your folder cannot be used", f"{name}: {err}"))
            return
        self.learner = name
        self.sub_title = name
        if self.on_learner is not None:
            self.on_learner(folder)
        self._begin()

    def _begin(self) -> None:
        self.push_screen(PickerScreen(self.clock, learner=self.learner))
        self.read_catalogue()
        try:
            self.keymap = actions.load_keymap(self.keymap_file)
        except KeymapError as err:
            self.push_screen(ErrorDialog("Your key bindings are not used", f"{err}\n\nThe default keys apply."))
        self.set_keymap(self.keymap)
        if self.course is not None:
            self.open_course(self.course)

    # The catalogue and opening courses ----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="catalogue", exclusive=True)
    def read_catalogue(self) -> None:
        """The quick reading first (the picker fills at once), then the validated one."""
        if self.quick_catalogue is not None:
            self.post_message(self.CatalogueRead(self.quick_catalogue()))
        self.post_message(self.CatalogueRead(self.catalogue()))

    @on(CatalogueRead)
    def _catalogue_read(self, message: CatalogueRead) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, PickerScreen):
                screen.show(message.cards)

    @on(PickerScreen.Open)
    def _open(self, message: PickerScreen.Open) -> None:
        if message.card.valid:
            self.open_course(str(message.card.folder))
        else:
            problems = "\n".join(message.card.problems[:10])
            self.push_screen(ErrorDialog("This course cannot be opened", f"{message.card.title}:\n{problems}"))

    @work(thread=True, exit_on_error=False, group="open", exclusive=True)
    def open_course(self, course_arg: str) -> None:
        self.post_message(self.SessionOpened(self.session_factory(course_arg)))

    def _load_session(self, course_arg: str) -> LabSession:
        from ..lab.session import LabSession

        return LabSession.load(course_arg, trusted=self.trusted, store=self.store, timings=self.timings)

    @on(SessionOpened)
    def _session_opened(self, message: SessionOpened) -> None:
        from .screens.lesson import LessonScreen

        if message.session.course_arg not in self.opened:
            self.opened.append(message.session.course_arg)
        lesson = LessonScreen(message.session, self.clock, terminal=self.terminal, demo=self.demo)
        self.push_screen(lesson, lambda _: self.read_catalogue())

    # Help and failures --------------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap, str(self.keymap_file)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        title = "The courses cannot be read" if event.worker.group == "catalogue" else "The course cannot be opened"
        self.push_screen(ErrorDialog(title, failure_message(event.worker.error)))
