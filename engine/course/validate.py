"""Everything wrong with a course, not only the first thing: format, references, and what its checks name.

The models judge the shape of course.yaml and lab.yaml (the check models also parse their JSONPath, CEL and
regular expressions). This module adds what a model cannot know alone: referenced files exist, step ids are
unique, the lab exists and serves the kinds that checks and manifests name, and selectors suit their kind.
Each item is validated on its own, so a broken step does not hide the problems of the next one.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..checks.spec import CHECK_KINDS
from ..errors import DriftlabError
from .assets import asset_problem, outside, working_path_problem
from .expressions import field_selector_problem, label_selector_problem
from .kinds import KindError, ServedKinds
from .loader import parse_model, read_document, read_text
from .manifests import (
    SUFFIXES,
    Located,
    check_kinds,
    declared_kinds,
    display_join,
    inline_manifest,
    manifest_files,
    read_manifest_path,
)
from .model import DEFAULT_IMAGES, LABEL_PATTERN, Course, Lab
from .positions import Document, Mark, NodePath, YAMLSyntaxError, load_documents
from .problems import CourseError, Problem, Report

COURSE_FILE = "course.yaml"
LAB_FILE = "lab.yaml"
_COURSE_FIELDS = "a course (title, summary, duration, level, lab, steps)"
_LAB_FIELDS = "a lab (title, and optionally backend, namespaces, seed, images, repos, agents, bootstrap)"
_FILE_NAME_RE = re.compile(r"^[\w./-]+\.md$")
_POSITION_RE = re.compile(r"^(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.DOTALL)


# ----------------------------------------------------------------------------------------------------
# Public API


def validate_course(path: str | Path) -> list[Problem]:
    """Every problem of the course at `path` (its folder, its course.yaml, or the name of a shipped course),
    sorted by position."""
    source, display = _course_source(path)
    checker = _CourseCheck(source, display)
    checker.run()
    return checker.report.sorted()


def load_course(path: str | Path) -> Course:
    """The course at `path` (as for validate_course), fully validated; raises CourseError listing every problem."""
    source, display = _course_source(path)
    checker = _CourseCheck(source, display)
    course = checker.run()
    problems = checker.report.sorted()
    if problems or course is None:
        raise CourseError(problems, what=f"course {display}")
    return course.bind(source.resolve(), checker.lab_folder)


def load_lab(name_or_path: str | Path) -> Lab:
    """A lab by name (among driftlab's labs) or by path (its folder or lab.yaml); raises CourseError."""
    given = Path(name_or_path)
    if given.exists():
        source = given / LAB_FILE if given.is_dir() else given
        display = os.path.normpath(os.fspath(source))
    else:
        source = paths.labs_dir() / os.fspath(name_or_path) / LAB_FILE
        display = _shown(source)
        if not source.is_file():
            raise DriftlabError(f"there is no lab named {os.fspath(name_or_path)!r} (no {display})")
    report = Report()
    lab, _ = _LabCheck(source, display, report).run()
    if report or lab is None:
        raise CourseError(report.sorted(), what=f"lab {display}")
    return lab.bind(source.resolve())


@dataclass(frozen=True)
class LabRef:
    """Where a course's lab lives, and how to show that path to the author."""

    folder: Path
    display: str


def find_lab(name: str, course_source: Path, course_display: str | None = None) -> LabRef | None:
    """The lab a course names: `./x` or `../x` relative to the course; a name in the `labs/` folder beside the
    course's `courses/` folder, else among driftlab's own labs."""
    for ref in _lab_candidates(name, course_source, course_display or str(course_source)):
        if (ref.folder / LAB_FILE).is_file():
            return ref
    return None


# ----------------------------------------------------------------------------------------------------
# Paths


def _course_source(path: str | Path) -> tuple[Path, str]:
    """The course file for a folder, a file, or the name of a course shipped in driftlab's courses/."""
    given = Path(path)
    if given.is_dir():
        source = given / COURSE_FILE
        if not source.is_file():
            raise DriftlabError(f"{os.fspath(path)} has no {COURSE_FILE}: give a course folder or a course file")
        return source, os.path.normpath(os.fspath(source))
    if given.is_file():
        return given, os.path.normpath(os.fspath(given))
    shipped = paths.courses_dir() / os.fspath(path) / COURSE_FILE
    if re.match(LABEL_PATTERN, os.fspath(path)) and shipped.is_file():
        return shipped, _shown(shipped)
    raise DriftlabError(
        f"no course at {os.fspath(path)}: give a course folder (with {COURSE_FILE}), a course file, or the name "
        "of a course in driftlab's courses/ (see: driftlab course list)"
    )


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is inside it, else absolute."""
    absolute = path.absolute()
    try:
        return os.path.normpath(os.fspath(absolute.relative_to(Path.cwd())))
    except ValueError:
        return os.path.normpath(os.fspath(absolute))


def _is_lab_path(name: str) -> bool:
    return name in (".", "..") or name.startswith(("./", "../"))


def _lab_candidates(name: str, source: Path, display: str) -> list[LabRef]:
    base = os.path.dirname(display)
    if _is_lab_path(name):
        return [LabRef(source.parent / name, display_join(base, name))]
    return [
        LabRef(_repository(source) / "labs" / name, display_join(base, f"../../labs/{name}")),
        LabRef(paths.labs_dir() / name, _shown(paths.labs_dir() / name)),
    ]


def _repository(source: Path) -> Path:
    """The folder holding `courses/`, for a course at <repository>/courses/<course>/course.yaml."""
    return source.absolute().parent.parent.parent


def _lab_names(source: Path) -> list[str]:
    names: set[str] = set()
    for folder in (_repository(source) / "labs", paths.labs_dir()):
        if folder.is_dir():
            names.update(child.name for child in folder.iterdir() if (child / LAB_FILE).is_file())
    return sorted(names)


# ----------------------------------------------------------------------------------------------------
# Checkers


class _Checker:
    """What the lab and course checks share: the file being checked, its folder, and where problems go."""

    owner = "the file's"

    def __init__(self, source: Path, display: str, report: Report) -> None:
        self.source = source
        self.folder = source.parent
        self.display = display
        self.report = report
        self.document = Document(data=None)

    def problem(self, path: NodePath, message: str) -> None:
        mark = self.document.value_mark(path)
        self.report.add(self.display, mark.line, mark.column, message)

    def shown(self, relative: str) -> str:
        """A path relative to this file's folder, as the author sees it from where they ran the command."""
        return display_join(os.path.dirname(self.display), relative)

    def relative_file(self, relative: str, path: NodePath, what: str, folders: bool = False) -> bool:
        """Whether a referenced file (or manifest folder) exists inside this file's folder; reports it where it is
        referenced if not."""
        problem = asset_problem(self.folder, relative, self.owner)
        if problem is not None:
            self.problem(path, f"{what} {problem}")
            return False
        target = self.folder / relative
        try:
            if not target.exists():
                self.problem(path, f"{what} '{relative}' not found (looked for {self.shown(relative)})")
                return False
            if target.is_dir() and not folders:
                self.problem(path, f"{what} '{relative}' is a folder; expected a file")
                return False
            if target.is_dir() and not manifest_files(target):
                self.problem(path, f"{what} folder '{relative}' has no {', '.join(SUFFIXES)} files")
                return False
        except OSError as err:
            self.problem(path, f"{what} '{relative}' cannot be read: {err.strerror or err}")
            return False
        escaping = [file.name for file in manifest_files(target) if outside(self.folder, file)]
        for name in escaping:
            message = (
                f"{what} folder '{relative}' holds '{name}', a symbolic link to a file outside {self.owner} folder"
            )
            self.problem(path, message)
        return not escaping


class _LabCheck(_Checker):
    owner = "the lab's"

    def run(self) -> tuple[Lab | None, ServedKinds | None]:
        """The lab (None when malformed) and the kinds it serves (None when its file cannot be read)."""
        document = read_document(self.source, self.display, self.report, _LAB_FIELDS)
        if document is None:
            return None, None
        self.document = document
        lab = parse_model(Lab, document, self.display, self.report)
        data = document.data if isinstance(document.data, dict) else {}
        served = self._seed(data.get("seed"), data.get("bootstrap"), lab.agents if lab is not None else [])
        self._images(data.get("images"))
        self._repos(data.get("repos"))
        return lab, served

    def _seed(self, seed: Any, bootstrap: Any, agents: list[str]) -> ServedKinds:
        """Seed and bootstrap manifests exist and name kinds the cluster will serve (the agents' CRDs included)."""
        from ..gitops import crds

        manifests: list[Located] = []
        for key, entries in (("seed", seed), ("bootstrap", bootstrap)):
            for index, entry in _items(entries):
                if isinstance(entry, str) and self.relative_file(entry, (key, index), f"{key} manifest", folders=True):
                    manifests.extend(read_manifest_path(self.folder / entry, self.shown(entry), self.report))
        definitions: list[Located] = []
        for path in crds.files(agents):
            definitions.extend(read_manifest_path(path, path.name, self.report))
        served = ServedKinds().with_types(declared_kinds(definitions + manifests, self.report))
        check_kinds(manifests, served, self.report)
        return served

    def _images(self, images: Any) -> None:
        """The image catalogue exists and loads as the embedded cluster will load it at lab up."""
        if images is None and (self.folder / DEFAULT_IMAGES).is_file():
            images = DEFAULT_IMAGES
        if not (isinstance(images, str) and self.relative_file(images, ("images",), "image catalogue")):
            return
        shown = self.shown(images)
        text = read_text(self.folder / images, shown, self.report)
        if text is None:
            return
        try:
            load_documents(text)
        except YAMLSyntaxError as err:
            self.report.add(shown, err.mark.line, err.mark.column, err.message)
            return
        from ..cluster.embedded.workloads import CatalogueError, parse_catalogue

        try:
            parse_catalogue(text, shown)
        except CatalogueError as err:
            for entry in err.errors:
                where = _POSITION_RE.match(entry.removeprefix(f"{shown}:"))
                if where is None:
                    self.report.add(shown, 1, 1, entry.removeprefix(f"{shown}: "))
                else:
                    self.report.add(shown, int(where["line"]), int(where["column"]), where["message"])

    def _repos(self, repos: Any) -> None:
        for index, repo in _items(repos):
            name = repo.get("name") if isinstance(repo, dict) else None
            if not (isinstance(name, str) and re.match(LABEL_PATTERN, name)):
                continue
            problem = asset_problem(self.folder, f"repos/{name}", self.owner)
            if problem is not None:
                self.problem(("repos", index, "name"), f"the seed content of repo '{name}', {problem}")
            elif not (self.folder / "repos" / name).is_dir():
                message = f"repo '{name}' has no seed content: expected a folder {self.shown(f'repos/{name}')}/"
                self.problem(("repos", index, "name"), message)


# ----------------------------------------------------------------------------------------------------
# Courses


class _CourseCheck(_Checker):
    owner = "the course's"

    def __init__(self, source: Path, display: str) -> None:
        super().__init__(source, display, Report())
        self.report.register(display)
        self.served = ServedKinds()
        self.kinds_known = True
        self.lab_folder: Path | None = None

    def run(self) -> Course | None:
        document = read_document(self.source, self.display, self.report, _COURSE_FIELDS)
        if document is None:
            return None
        self.document = document
        course = parse_model(Course, document, self.display, self.report)
        data = document.data if isinstance(document.data, dict) else {}
        self._lab(data.get("lab"))
        steps = data.get("steps")
        if isinstance(steps, list):
            self._steps(steps)
        return course

    # -- lab

    def _lab(self, name: Any) -> None:
        if not isinstance(name, str):
            self.kinds_known = False
            return
        if not (_is_lab_path(name) or re.match(LABEL_PATTERN, name)):
            self.kinds_known = False
            message = f"'{name}' is not a lab name: name a folder of labs/, or give a path starting with ./ or ../"
            self.problem(("lab",), message)
            return
        ref = find_lab(name, self.source, self.display)
        if ref is None:
            self.kinds_known = False
            self.problem(("lab",), self._lab_not_found(name))
            return
        self.lab_folder = ref.folder.resolve()
        _, served = _LabCheck(ref.folder / LAB_FILE, os.path.join(ref.display, LAB_FILE), self.report).run()
        if served is None:
            self.kinds_known = False
        else:
            self.served = served

    def _lab_not_found(self, name: str) -> str:
        close = difflib.get_close_matches(name, _lab_names(self.source), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if _is_lab_path(name):
            return f"lab '{name}' not found: there is no {name}/{LAB_FILE} (relative to the course's folder){hint}"
        where = f"no labs/{name}/{LAB_FILE} beside the course's courses/ folder nor among driftlab's labs"
        return f"lab '{name}' not found: {where}{hint}"

    # -- steps

    def _steps(self, steps: list[Any]) -> None:
        seen: dict[str, Mark] = {}
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            path: NodePath = ("steps", index)
            self._step_id(step.get("id"), path, seen)
            self._instructions(step.get("instructions"), (*path, "instructions"))
            self._setup(step.get("setup"), (*path, "setup"))
            self._solution_files(step.get("solution"), (*path, "solution"))
            for number, check in _items(step.get("checks")):
                self._check(check, (*path, "checks", number))

    def _step_id(self, step_id: Any, path: NodePath, seen: dict[str, Mark]) -> None:
        if not isinstance(step_id, str):
            return
        here = self.document.value_mark((*path, "id"))
        first = seen.setdefault(step_id, here)
        if first != here:
            where = f"line {first.line}, column {first.column}"
            self.problem((*path, "id"), f"duplicate step id '{step_id}' (first used at {where})")

    def _instructions(self, value: Any, path: NodePath) -> None:
        if isinstance(value, str) and _FILE_NAME_RE.match(value.strip()):
            self.problem(path, f"instructions look like a file name; write {{file: {value.strip()}}} to use the file")
        elif isinstance(value, dict) and isinstance(value.get("file"), str):
            self.relative_file(value["file"], (*path, "file"), "instructions file")

    def _solution_files(self, solution: Any, path: NodePath) -> None:
        """File edits stay inside the learner's working folder: relative paths that do not climb out of it."""
        files = solution.get("files") if isinstance(solution, dict) else None
        for index, edit in _items(files):
            target = edit.get("path") if isinstance(edit, dict) else None
            if not isinstance(target, str):
                continue
            problem = working_path_problem(target)
            if problem is not None:
                self.problem((*path, "files", index, "path"), f"the file edit {problem}")

    # -- setup

    def _setup(self, actions: Any, path: NodePath) -> None:
        """Manifests exist, parse and name served kinds (CRDs applied here count); delete targets resolve."""
        manifests: list[Located] = []
        deletions: list[tuple[dict[str, Any], NodePath]] = []
        for index, action in _items(actions):
            if not isinstance(action, dict):
                continue
            here: NodePath = (*path, index)
            apply, delete = action.get("apply"), action.get("delete")
            if isinstance(apply, str):
                manifests.extend(self._manifest_file(apply, (*here, "apply")))
            elif isinstance(apply, dict):
                where = (*here, "apply")
                manifests.extend(inline_manifest(apply, self.display, self.document, where, self.report))
            if isinstance(delete, str):
                manifests.extend(self._manifest_file(delete, (*here, "delete")))
            elif isinstance(delete, dict):
                deletions.append((delete, (*here, "delete")))
        self.served = self.served.with_types(declared_kinds(manifests, self.report))
        if self.kinds_known:
            check_kinds(manifests, self.served, self.report)
        for target, here in deletions:
            self._target(target, here)

    def _manifest_file(self, relative: str, path: NodePath) -> list[Located]:
        if not self.relative_file(relative, path, "manifest", folders=True):
            return []
        return read_manifest_path(self.folder / relative, self.shown(relative), self.report)

    # -- checks

    def _check(self, check: Any, path: NodePath) -> None:
        """Read from the raw data, so a malformed check elsewhere in a group does not hide these problems."""
        if not isinstance(check, dict):
            return
        for kind in CHECK_KINDS:
            body, here = check.get(kind), (*path, kind)
            if kind in ("all", "any") and isinstance(body, list):
                if not body:
                    self.problem(here, f"an '{kind}' group needs at least one check")
                for index, inner in enumerate(body):
                    self._check(inner, (*here, index))
            elif isinstance(body, dict):
                self._target(body, here)

    def _target(self, body: dict[str, Any], path: NodePath) -> None:
        """A kind the cluster serves, a namespace only for namespaced kinds, selectors that parse."""
        selector = _text(body, "selector")
        if selector is not None:
            self._problem_if((*path, selector[0]), label_selector_problem(selector[1]))
        kind = _text(body, "kind")
        if kind is None or not self.kinds_known:
            return
        api_version = _text(body, "apiVersion", "api_version")
        try:
            rtype = self.served.resolve(kind[1], api_version[1] if api_version else None)
        except KindError as err:
            self.problem((*path, "kind"), str(err))
            return
        namespace = _text(body, "namespace")
        if namespace is not None and namespace[1] != "*" and not rtype.namespaced:
            self.problem((*path, "namespace"), f"{rtype.kind} is cluster-scoped: remove the namespace")
        field_selector = _text(body, "fieldSelector", "field_selector")
        if field_selector is not None:
            self._problem_if((*path, field_selector[0]), field_selector_problem(field_selector[1], rtype))

    def _problem_if(self, path: NodePath, message: str | None) -> None:
        if message is not None:
            self.problem(path, message)


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _text(body: dict[str, Any], *keys: str) -> tuple[str, str] | None:
    """The first of `keys` that holds text, with the key (for its position)."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, str):
            return key, value
    return None
