"""The course catalogue: every course with the learner's progress, as the course picker lists it.

Validating a course takes a while (its checks are compiled), so there are two readings: `quick_catalogue` reads
only what the picker shows from each course.yaml, in a few milliseconds, and `course_catalogue` loads and
validates every course, so an invalid one is listed with its problems. A picker shows the first, then the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import paths
from ..course.catalog import curriculum_key
from ..errors import DriftlabError
from .progress import CourseProgress, ProgressStore

if TYPE_CHECKING:
    from ..course import CourseEntry

COURSE_FILE = "course.yaml"


@dataclass(frozen=True)
class CourseCard:
    """A course as the picker lists it: what it is, and how far the learner got."""

    name: str
    folder: Path
    title: str
    summary: str = ""
    duration: str = ""
    level: str = ""
    steps: int = 0
    passed: int = 0
    current_title: str = ""
    finished: bool = False
    last_opened: datetime | None = None
    problems: tuple[str, ...] = ()
    order: int | None = None

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def started(self) -> bool:
        return self.last_opened is not None

    @property
    def progress_label(self) -> str:
        """`new`, `2/8`, or `done`."""
        if not self.valid:
            return "invalid"
        if self.finished:
            return "done"
        if not self.started:
            return "new"
        return f"{self.passed}/{self.steps}"


def course_catalogue(root: Path | None = None, store: ProgressStore | None = None) -> list[CourseCard]:
    """The courses in `root` (driftlab's own by default), then courses opened before from elsewhere, each
    validated (an invalid one carries its problems)."""
    from ..course import CourseEntry, list_courses, load_course
    from ..course.problems import CourseError

    store = store if store is not None else ProgressStore()
    progress = {entry.course: entry for entry in store.courses()}
    entries = list_courses(root)
    cards = [_card(entry, progress.get(entry.name)) for entry in entries]
    names = {card.name for card in cards}
    for opened in progress.values():
        source = Path(opened.source) if opened.source else None
        # Progress is kept by course name, so a second course of the same name would show the first one's.
        if source is None or opened.course in names or not source.is_file():
            continue
        try:
            course = load_course(source)
        except (CourseError, DriftlabError, OSError):
            continue
        names.add(course.name)
        cards.append(_card(CourseEntry(course.name, course.folder, course), opened))
    return cards


def _card(entry: CourseEntry, progress: CourseProgress | None) -> CourseCard:
    from .lab import current_step

    course = entry.course
    if course is None:
        problems = tuple(str(problem) for problem in entry.problems)
        return CourseCard(entry.name, entry.folder, entry.name, problems=problems or ("it cannot be read",))
    progress = progress or CourseProgress(entry.name)
    step = current_step(course, progress) if progress.opened else None
    return CourseCard(
        name=course.name,
        folder=course.folder,
        title=course.title,
        summary=course.summary,
        duration=course.duration,
        level=course.level,
        steps=len(course.steps),
        passed=sum(1 for item in course.steps if progress.passed(item.id)),
        current_title=step.title if step is not None else "",
        finished=progress.finished,
        last_opened=progress.last_opened,
        order=course.order,
    )


def last_opened(cards: Sequence[CourseCard]) -> CourseCard | None:
    """The course the learner opened most recently (to resume), if any."""
    opened = [card for card in cards if card.last_opened is not None and card.valid]
    return max(opened, key=lambda card: card.last_opened or datetime.min) if opened else None


def quick_catalogue(root: Path | None = None, store: ProgressStore | None = None) -> list[CourseCard]:
    """The same list as course_catalogue from a plain reading of each course.yaml (nothing validated)."""
    store = store if store is not None else ProgressStore()
    progress = {entry.course: entry for entry in store.courses()}
    root = root if root is not None else paths.courses_dir()
    folders = sorted(child for child in root.iterdir() if (child / COURSE_FILE).is_file()) if root.is_dir() else []
    cards = sorted(
        (_quick_card(folder, progress.get(folder.name)) for folder in folders),
        key=lambda card: curriculum_key(card.order, card.name),
    )
    names = {card.name for card in cards}
    for opened in progress.values():
        source = Path(opened.source) if opened.source else None
        if source is not None and opened.course not in names and source.is_file():
            names.add(opened.course)
            cards.append(_quick_card(source.parent, opened))
    return cards


def _quick_card(folder: Path, progress: CourseProgress | None) -> CourseCard:
    try:
        data: Any = yaml.load((folder / COURSE_FILE).read_text(), Loader=_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    if not isinstance(data, dict):
        return CourseCard(folder.name, folder, folder.name, problems=(f"{folder / COURSE_FILE} cannot be read",))
    steps = [step for step in data.get("steps") or [] if isinstance(step, dict)]
    progress = progress or CourseProgress(folder.name)
    ids = [str(step.get("id", "")) for step in steps]
    current = progress.current_step if progress.current_step in ids else None
    if current is None and progress.opened and not progress.finished:
        current = next((step_id for step_id in ids if not progress.passed(step_id)), None)
    titles = {str(step.get("id", "")): str(step.get("title", "")) for step in steps}
    return CourseCard(
        name=folder.name,
        folder=folder,
        title=str(data.get("title") or folder.name),
        summary=" ".join(str(data.get("summary") or "").split()),
        duration=str(data.get("duration") or ""),
        level=str(data.get("level") or ""),
        steps=len(steps),
        passed=sum(1 for step_id in ids if progress.passed(step_id)),
        current_title=titles.get(current or "", "") if progress.opened else "",
        finished=progress.finished,
        last_opened=progress.last_opened,
        order=data.get("order") if isinstance(data.get("order"), int) else None,
    )


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
