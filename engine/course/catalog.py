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
    """Every folder of `root` with a course.yaml, by name; an invalid course is listed with its problems."""
    root = root if root is not None else paths.courses_dir()
    if not root.is_dir():
        return []
    entries = []
    for folder in sorted(child for child in root.iterdir() if (child / COURSE_FILE).is_file()):
        try:
            entries.append(CourseEntry(folder.name, folder, load_course(folder)))
        except CourseError as err:
            entries.append(CourseEntry(folder.name, folder, None, tuple(err.problems)))
    return entries
