"""Reading a Killercoda scenario: its index.json and every file it names, with every problem reported at once.

Paths in index.json are relative to the scenario's folder; assets live in its `assets/` folder. A file that
index.json names but that is missing is an error (the import stops); keys driftlab has no use for are kept as
warnings so the author knows what was left behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import DriftlabError

INDEX = "index.json"
STRUCTURE = "structure.json"
ASSETS = "assets"

_PAGE_KEYS = ("title", "text", "verify", "background", "foreground", "answer")
_TOP_KEYS = ("title", "description", "details", "backend", "interface", "difficulty", "time")
_DETAILS_KEYS = ("intro", "steps", "finish", "assets")
_ASSET_KEYS = ("file", "target", "chmod")


class KillercodaError(DriftlabError):
    """A scenario that cannot be imported; lists every problem found, each naming the file it is about."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Source:
    """A text file index.json names: the name as written there, and its content."""

    name: str
    path: Path
    text: str


@dataclass(frozen=True)
class Page:
    """The intro, a step or the finish page: what the learner reads and the scripts around it."""

    where: str
    title: str | None = None
    text: Source | None = None
    verify: Source | None = None
    background: Source | None = None
    foreground: Source | None = None
    answer: Source | None = None


@dataclass(frozen=True)
class Asset:
    """One entry of `details.assets.<host>`: files of `assets/` that Killercoda copies to `target` on a host."""

    where: str
    host: str
    file: str
    target: str
    chmod: str | None
    matches: tuple[Path, ...]


@dataclass
class Scenario:
    """Everything index.json says that an import can use, with its files read."""

    folder: Path
    title: str
    description: str | None = None
    difficulty: str | None = None
    time: str | None = None
    imageid: str | None = None
    intro: Page | None = None
    steps: list[Page] = field(default_factory=list)
    finish: Page | None = None
    assets: list[Asset] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_scenario(path: str | Path) -> Scenario:
    """The scenario in folder `path` (or its index.json); raises KillercodaError listing every problem."""
    folder, index = _index_path(Path(path))
    reader = _Reader(folder)
    scenario = reader.read(_load_index(index))
    if reader.problems:
        raise KillercodaError(reader.problems)
    return scenario


def _index_path(given: Path) -> tuple[Path, Path]:
    if given.is_file() and given.name == INDEX:
        return given.parent, given
    if not given.is_dir():
        raise DriftlabError(f"{os.fspath(given)}: no such folder; give the folder of a Killercoda scenario")
    index = given / INDEX
    if index.is_file():
        return given, index
    if (given / STRUCTURE).is_file():
        inside = sorted(child.name for child in given.iterdir() if (child / INDEX).is_file())
        listed = f": {', '.join(inside)}" if inside else ""
        raise DriftlabError(
            f"{os.fspath(given)} is a Killercoda course ({STRUCTURE}), not a scenario; import its scenarios one by "
            f"one{listed}"
        )
    raise DriftlabError(f"{os.fspath(given)} has no {INDEX}: give the folder of a Killercoda scenario")


def _load_index(index: Path) -> Any:
    shown = os.fspath(index)
    try:
        text = index.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise KillercodaError([f"{shown}: not UTF-8 text (byte {err.start})"]) from None
    except OSError as err:
        raise KillercodaError([f"{shown}: cannot read the file: {err.strerror or err}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise KillercodaError([f"{shown}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}"]) from None
    if not isinstance(data, dict):
        raise KillercodaError([f"{shown}: expected a JSON object with title and details, found {_type(data)}"])
    return data


def _type(value: Any) -> str:
    if value == "":
        return "empty text"
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")


class _Reader:
    """Walks index.json, collecting problems (which stop the import) and warnings (which do not)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{os.fspath(self.folder / INDEX)}: {where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{INDEX}: {where}: {message}")

    def read(self, data: dict[str, Any]) -> Scenario:
        self._unknown(data, _TOP_KEYS, "")
        title = self._text(data, "title", "")
        if title is None or not title.strip():
            title = self.folder.resolve().name
            self.warn("title", f"missing; the course is titled {title!r} after the scenario's folder")
        scenario = Scenario(
            folder=self.folder,
            title=title.strip(),
            description=self._text(data, "description", ""),
            difficulty=self._text(data, "difficulty", ""),
            time=self._scalar_text(data, "time"),
        )
        self._backend(data.get("backend"), scenario)
        self._interface(data.get("interface"))
        details = data.get("details")
        if details is None:
            details = {}
        if not isinstance(details, dict):
            self.problem("details", f"expected an object with intro, steps and finish, found {_type(details)}")
            details = {}
        self._unknown(details, _DETAILS_KEYS, "details.")
        scenario.intro = self._page(details.get("intro"), "details.intro", verify=False)
        scenario.steps = self._steps(details.get("steps"))
        scenario.finish = self._page(details.get("finish"), "details.finish", verify=False)
        scenario.assets = self._assets(details.get("assets"))
        if not scenario.steps and scenario.intro is None and scenario.finish is None:
            self.problem("details.steps", "the scenario has no steps, intro nor finish: nothing to import")
        scenario.warnings = self.warnings
        return scenario

    # -- values

    def _unknown(self, data: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
        for key in data:
            if key not in known:
                self.warn(f"{prefix}{key}", "no equivalent in driftlab; ignored")

    def _text(self, data: dict[str, Any], key: str, prefix: str) -> str | None:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.problem(f"{prefix}{key}", f"expected text, found {_type(value)}")
        return None

    def _scalar_text(self, data: dict[str, Any], key: str) -> str | None:
        """`time` is written as text ("15 minutes") or as a bare number of minutes."""
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value:g} minutes"
        return self._text(data, key, "")

    def _backend(self, backend: Any, scenario: Scenario) -> None:
        if backend is None:
            return
        if not isinstance(backend, dict):
            self.problem("backend", f'expected an object such as {{"imageid": "ubuntu"}}, found {_type(backend)}')
            return
        for key, value in backend.items():
            if key != "imageid":
                self.warn(f"backend.{key}", "no equivalent in driftlab; ignored")
            elif isinstance(value, str):
                scenario.imageid = value
            else:
                self.problem("backend.imageid", f"expected text, found {_type(value)}")

    def _interface(self, interface: Any) -> None:
        if interface is None:
            return
        if isinstance(interface, dict) and set(interface) <= {"layout"}:
            layout = interface.get("layout")
            self.warn("interface.layout", f"{layout!r}: driftlab has one layout (instructions and a terminal); ignored")
        else:
            self.warn("interface", "no equivalent in driftlab; ignored")

    # -- pages

    def _steps(self, steps: Any) -> list[Page]:
        if steps is None:
            return []
        if not isinstance(steps, list):
            self.problem("details.steps", f"expected a list of steps, found {_type(steps)}")
            return []
        pages = []
        for index, step in enumerate(steps):
            page = self._page(step, f"details.steps[{index}]", verify=True)
            if page is not None:
                pages.append(page)
        return pages

    def _page(self, data: Any, where: str, *, verify: bool) -> Page | None:
        if data is None:
            return None
        if not isinstance(data, dict):
            self.problem(where, f"expected an object with title and text, found {_type(data)}")
            return None
        self._unknown(data, _PAGE_KEYS, f"{where}.")
        if not verify and "verify" in data:
            self.warn(f"{where}.verify", "Killercoda verifies steps only; ignored")
        return Page(
            where=where,
            title=self._text(data, "title", f"{where}."),
            text=self._file(data, "text", where),
            verify=self._file(data, "verify", where) if verify else None,
            background=self._file(data, "background", where),
            foreground=self._file(data, "foreground", where),
            answer=self._file(data, "answer", where),
        )

    def _file(self, data: dict[str, Any], key: str, where: str) -> Source | None:
        name = data.get(key)
        if name is None:
            return None
        if not isinstance(name, str) or not name.strip():
            self.problem(f"{where}.{key}", f"expected a file path relative to the scenario, found {_type(name)}")
            return None
        if PurePosixPath(name).is_absolute():
            self.problem(f"{where}.{key}", f"{name!r} is an absolute path; paths are relative to the scenario's folder")
            return None
        if "\0" in name or ".." in PurePosixPath(name).parts:
            self.problem(f"{where}.{key}", f"{name!r} must name a file inside the scenario's folder")
            return None
        path = self.folder / name
        if self._outside(path):
            self.problem(f"{where}.{key}", f"{name!r} is a symbolic link to a file outside the scenario's folder")
            return None
        text = self._read(path, f"{where}.{key}", name)
        return None if text is None else Source(name, path, text)

    def _read(self, path: Path, where: str, name: str) -> str | None:
        shown = os.fspath(path)
        if not path.exists():
            self.problem(where, f"file {name!r} not found (looked for {shown})")
        elif path.is_dir():
            self.problem(where, f"{name!r} is a folder; expected a file ({shown})")
        else:
            try:
                return path.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                self.problem(where, f"{shown} is not UTF-8 text (byte {err.start})")
            except OSError as err:
                self.problem(where, f"cannot read {shown}: {err.strerror or err}")
        return None

    # -- assets

    def _assets(self, assets: Any) -> list[Asset]:
        if assets is None:
            return []
        if not isinstance(assets, dict):
            self.problem("details.assets", f'expected an object such as {{"host01": [...]}}, found {_type(assets)}')
            return []
        found = []
        for host, entries in assets.items():
            where = f"details.assets.{host}"
            if not isinstance(entries, list):
                self.problem(where, f"expected a list of {{file, target}} objects, found {_type(entries)}")
                continue
            for index, entry in enumerate(entries):
                asset = self._asset(entry, host, f"{where}[{index}]")
                if asset is not None:
                    found.append(asset)
        return found

    def _asset(self, entry: Any, host: str, where: str) -> Asset | None:
        if not isinstance(entry, dict):
            self.problem(where, f"expected an object with file and target, found {_type(entry)}")
            return None
        self._unknown(entry, _ASSET_KEYS, f"{where}.")
        file, target, chmod = entry.get("file"), entry.get("target"), entry.get("chmod")
        if not isinstance(file, str) or not file or not isinstance(target, str) or not target:
            for key, value in (("file", file), ("target", target)):
                if not isinstance(value, str) or not value:
                    self.problem(f"{where}.{key}", f"expected text, found {_type(value)}")
            return None
        if chmod is not None and not isinstance(chmod, str):
            self.problem(f"{where}.chmod", f"expected text such as +x or 755, found {_type(chmod)}")
            return None
        matches = self._asset_matches(file, f"{where}.file")
        return Asset(where, host, file, target, chmod, matches) if matches else None

    def _asset_matches(self, pattern: str, where: str) -> tuple[Path, ...]:
        root = self.folder / ASSETS
        if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
            self.problem(where, f"{pattern!r} must name a file inside the scenario's {ASSETS}/ folder")
            return ()
        if not PurePosixPath(pattern).parts or "\0" in pattern:
            self.problem(where, f"{pattern!r} names no file: give a file name or pattern inside {ASSETS}/")
            return ()
        try:
            found = sorted(path for path in root.glob(pattern) if not path.name.startswith("."))
        except (ValueError, OSError) as err:
            self.problem(where, f"{pattern!r} is not a file name or pattern driftlab can use: {err}")
            return ()
        escaping = [path for path in found for entry in _entries(path) if self._outside(entry)]
        for path in escaping:
            shown = path.relative_to(root).as_posix()
            self.problem(where, f"asset {shown!r} is (or holds) a symbolic link to a file outside the scenario")
        if escaping:
            return ()
        if not found:
            self.problem(where, f"asset {pattern!r} not found (looked in {os.fspath(root)}{os.sep})")
        return tuple(found)

    def _outside(self, path: Path) -> bool:
        """Whether `path` leads outside the scenario's folder once symbolic links are followed."""
        try:
            return not path.resolve().is_relative_to(self.folder.resolve())
        except (OSError, RuntimeError):
            return True


def _entries(path: Path) -> list[Path]:
    """An asset match and, for a folder, everything inside it (symbolic links are judged, not followed)."""
    return [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]
