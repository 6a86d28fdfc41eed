"""`driftlab course import-killercoda DIR OUT`: read the scenario, plan the course, write it, validate it.

Nothing is written until the scenario has been read without errors, so a scenario with a missing file leaves
OUT untouched; a write that fails half-way (a full disk) removes what it wrote. The written course must pass
`driftlab course validate`; if it does not, the import fails and the course stays, complete, for the author to
fix at the lines the problems name.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ... import paths
from ...errors import DriftlabError
from ..model import LABEL_PATTERN
from ..problems import CourseError
from ..validate import COURSE_FILE, LAB_FILE, find_lab, validate_course
from .assets import COURSE_ASSETS, apply_mode
from .convert import STEPS, Plan, course_relative, plan_course
from .scenario import read_scenario

DEFAULT_LAB = "embedded-default"
SCHEMA_FILE = "course.schema.json"


@dataclass(frozen=True)
class ImportResult:
    """What was written, and what the author should know about what did not carry over."""

    course_file: Path
    title: str
    steps: int
    lab: str
    warnings: list[str]


def import_scenario(
    source: str | Path, out: str | Path, *, lab: str | None = None, force: bool = False
) -> ImportResult:
    """Convert the Killercoda scenario in `source` into a driftlab course in folder `out`.

    `lab` is a lab name (found as `driftlab course validate` finds it) or a lab folder; it defaults to
    embedded-default, an empty embedded cluster. `force` writes into an existing, non-empty `out`, replacing
    the course.yaml, steps/ and assets/ an earlier import wrote there.
    """
    scenario = read_scenario(source)
    target = Path(out)
    lab_reference = lab_for(lab, target)
    plan = plan_course(scenario, lab_reference)
    created = not target.exists()
    _prepare(target, force)
    try:
        write_plan(plan, target, header=_header(scenario.folder, target))
    except OSError as err:
        _discard(target, created)
        raise DriftlabError(
            f"cannot write the course into {os.fspath(target)}: {err.strerror or err}; nothing was left there"
        ) from None
    problems = validate_course(target)
    if problems:
        raise CourseError(problems, what=f"the imported course {os.fspath(target / COURSE_FILE)}")
    return ImportResult(
        course_file=target / COURSE_FILE,
        title=scenario.title,
        steps=len(plan.course["steps"]),
        lab=lab_reference,
        warnings=plan.warnings,
    )


def lab_for(lab: str | None, out: Path) -> str:
    """How course.yaml names the lab: a name found from `out`, or a folder as a path relative to `out`."""
    name = lab or DEFAULT_LAB
    course_file = out / COURSE_FILE
    if re.match(LABEL_PATTERN, name) and find_lab(name, course_file) is not None:
        return name
    given = Path(name)
    folder = given.parent if given.name == LAB_FILE else given
    if (folder / LAB_FILE).is_file():
        return course_relative(folder.resolve(), out.resolve())
    raise DriftlabError(
        f"lab {name!r} not found: give the name of a lab (labs/<name>/{LAB_FILE} beside the course's courses/ "
        f"folder, or among driftlab's labs in {paths.labs_dir()}) or the path of a folder with a {LAB_FILE}"
    )


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DriftlabError(f"{os.fspath(out)} is a file; give a folder for the course")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise DriftlabError(
                f"{os.fspath(out)} already exists and is not empty: give a new folder, or pass --force to write "
                "over the course an earlier import put there"
            )
        for name in (STEPS, COURSE_ASSETS):
            if (out / name).is_dir():
                shutil.rmtree(out / name)
        (out / COURSE_FILE).unlink(missing_ok=True)


def _discard(out: Path, created: bool) -> None:
    """Remove what a failed write left: the whole folder when the import created it, else what it writes."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for name in (STEPS, COURSE_ASSETS):
        shutil.rmtree(out / name, ignore_errors=True)
    (out / COURSE_FILE).unlink(missing_ok=True)


def write_plan(plan: Plan, out: Path, header: str = "") -> None:
    """Write course.yaml, the converted texts and the copied files into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for relative, text in plan.texts.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for relative, source in plan.copies.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        apply_mode(path, plan.modes.get(relative))
    (out / COURSE_FILE).write_text(header + dump_yaml(plan.course), encoding="utf-8")


def _header(scenario: Path, out: Path) -> str:
    name = scenario.resolve().name
    lines = [f"# Imported from the Killercoda scenario {name} with `driftlab course import-killercoda`."]
    schema = paths.courses_dir() / SCHEMA_FILE
    if schema.is_file():
        relative = Path(os.path.relpath(schema.resolve(), out.resolve())).as_posix()
        lines.insert(0, f"# yaml-language-server: $schema={relative}")
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line text (commands with here-documents, hints) as literal blocks, as an author would write it."""


def _text(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
