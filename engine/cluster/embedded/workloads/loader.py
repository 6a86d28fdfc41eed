"""Loading catalogue files: the built-in one and a lab's. Every problem of a file is reported, in line order,
as `FILE:LINE:COL: message` with the path of the offending field."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .catalogue import Catalogue
from .errors import CatalogueError
from .model import Repository
from .positions import Marks, Position, YamlProblem, load

_DEFAULT_FILE = "default_images.yaml"
_REPOSITORIES = TypeAdapter(list[Repository])


def parse_catalogue(text: str, source: str = "<string>") -> Catalogue:
    """Parse one catalogue file (without the built-in default); errors name `source` and the line."""
    try:
        loaded = load(text)
    except YamlProblem as err:
        where = source if err.position is None else f"{source}:{err.position[0]}:{err.position[1]}"
        raise CatalogueError([f"{where}: {err.message}"]) from None
    data, marks = loaded if loaded is not None else ([], Marks())
    if not isinstance(data, list):
        line, column = marks.value_at(())
        raise CatalogueError([f"{source}:{line}:{column}: the image catalogue must be a list of repositories"])
    try:
        repositories = _REPOSITORIES.validate_python(data)
    except ValidationError as err:
        problems = _validation_messages(err, marks)
    else:
        problems = _semantic_messages(repositories, marks)
    if problems:
        problems.sort(key=lambda item: item[0])
        raise CatalogueError([f"{source}:{line}:{column}: {message}" for (line, column), message in problems])
    return Catalogue({repository.key: repository for repository in repositories})


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The built-in catalogue, extended by the lab catalogue at `path` if given: a lab repository replaces
    the built-in repository of the same (normalised) name."""
    default = _default_catalogue()
    if path is None:
        return default
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CatalogueError([f"{path}: the image catalogue is not UTF-8 text"]) from None
    except OSError as err:
        raise CatalogueError([f"{path}: cannot read the image catalogue: {err.strerror or err}"]) from None
    return default.extended(parse_catalogue(text, str(path)))


@functools.cache
def _default_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath(_DEFAULT_FILE).read_text(encoding="utf-8")
    return parse_catalogue(text, _DEFAULT_FILE)


def _loc_text(loc: Sequence[Any]) -> str:
    """A field path as written in messages: `[0].tags["1.0"].crash`."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(item)):
            out += f".{item}" if out else str(item)
        else:
            out += f'["{item}"]'
    return out


def _error_position(loc: Sequence[Any], marks: Marks, use_key: bool) -> Position:
    """Where the deepest part of `loc` present in the document starts (its key, with `use_key`)."""
    path: tuple[Any, ...] = ()
    for item in loc:
        if (*path, item) in marks.values:
            path = (*path, item)
    if use_key and path in marks.keys:
        return marks.keys[path]
    return marks.value_at(path)


def _clean_loc(loc: Sequence[Any], marks: Marks) -> tuple[Any, ...]:
    """Drop the model names pydantic inserts for unions, keeping the path through the document."""
    path: tuple[Any, ...] = ()
    for item in loc:
        if (*path, item) in marks.values or (*path, item) in marks.keys or isinstance(item, int):
            path = (*path, item)
    return path


def _validation_messages(err: ValidationError, marks: Marks) -> list[tuple[Position, str]]:
    """Pydantic's errors as positioned messages about the document's fields."""
    found: list[tuple[Position, str]] = []
    for problem in err.errors(include_url=False):
        loc = problem["loc"]
        kind = problem["type"]
        if kind == "extra_forbidden":
            message = f'unknown field "{loc[-1]}"'
            position = _error_position(loc, marks, use_key=True)
            where = _loc_text(_clean_loc(loc[:-1], marks))
        else:
            message = problem["msg"].removeprefix("Value error, ")
            if kind == "missing":
                message = f'missing required field "{loc[-1]}"'
                loc = loc[:-1]
            position = _error_position(loc, marks, use_key=False)
            where = _loc_text(_clean_loc(loc, marks))
        found.append((position, f"{where}: {message}" if where else message))
    return found


def _semantic_messages(repositories: list[Repository], marks: Marks) -> list[tuple[Position, str]]:
    """Problems between fields: a repository listed twice, `same_as` naming no tag or another alias."""
    found: list[tuple[Position, str]] = []
    seen: dict[str, int] = {}
    for index, repository in enumerate(repositories):
        if repository.key in seen:
            message = f"[{index}].name: repository {repository.key} is already listed at [{seen[repository.key]}]"
            found.append((marks.value_at((index, "name")), message))
        seen.setdefault(repository.key, index)
        for tag, entry in repository.tags.items():
            if entry is None or entry.same_as is None:
                continue
            path = (index, "tags", tag, "same_as")
            where = _loc_text(path)
            if entry.same_as not in repository.tags:
                found.append((marks.value_at(path), f'{where}: unknown tag "{entry.same_as}"'))
                continue
            target = repository.tags[entry.same_as]
            if target is not None and target.same_as is not None:
                found.append((marks.value_at(path), f"{where}: must name a tag that is not an alias"))
    return found
