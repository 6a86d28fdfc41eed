"""The courses in a folder (driftlab's own `courses/` by default), each loaded or with its problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import paths
from .model import Course
from .problems import CourseError, Problem
from .validate import COURSE_FILE, load_course


@dataclass(frozen=True)
class CourseEntry:
    """One course folder: its course when it is valid, else the problems that keep it from loading."""

    name: str
    folder: Path
    course: Course | None
    problems: tuple[Problem, ...] = ()


def list_courses(root: Path | None = None) -> list[CourseEntry]:
    """Every folder of `root` with a course.yaml, in curriculum order; an invalid one is listed with its problems."""
    root = root if root is not None else paths.courses_dir()
    if not root.is_dir():
        return []
    entries = []
    for folder in sorted(child for child in root.iterdir() if (child / COURSE_FILE).is_file()):
        try:
            entries.append(CourseEntry(folder.name, folder, load_course(folder)))
        except CourseError as err:
            entries.append(CourseEntry(folder.name, folder, None, tuple(err.problems)))
    return sorted(entries, key=lambda entry: curriculum_key(entry.course.order if entry.course else None, entry.name))


def curriculum_key(order: object, name: str) -> tuple[float, str]:
    """How course lists sort: by `order` (the curriculum), then by folder name; no order (or a bad one) last."""
    valid = isinstance(order, int) and not isinstance(order, bool) and order >= 0
    return (float(order) if valid else float("inf"), name)  # type: ignore[arg-type]
