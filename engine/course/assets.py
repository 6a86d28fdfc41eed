"""Paths a course or lab names (Markdown, manifests, catalogues, repo seeds) stay inside its own folder.

A course from anywhere may be opened; its files must not make driftlab read, apply or publish what lies outside
the folder it came in: no absolute paths, no `..` that climbs out, no symbolic link that leads out.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DriftlabError


class AssetPathError(DriftlabError):
    """A path in a course or lab that leads outside its folder."""


def asset_problem(folder: Path, relative: str, owner: str) -> str | None:
    """Why `relative` cannot name something inside `folder` (`owner` says whose folder, e.g. "the course's"),
    or None when it can. The message starts with the quoted path, for the caller to prefix with what it is."""
    lexical = _lexical_problem(relative, owner)
    if lexical is not None:
        return lexical
    try:
        resolved = (folder / relative).resolve()
        root = folder.resolve()
    except (OSError, RuntimeError) as err:
        return f"'{relative}' cannot be resolved: {getattr(err, 'strerror', None) or err}"
    if not resolved.is_relative_to(root):
        return f"'{relative}' is a symbolic link (or passes through one) to {resolved}, outside {owner} folder"
    return None


def working_path_problem(relative: str) -> str | None:
    """Why a solution's file edit cannot name a file of the learner's working folder, or None. That folder
    exists only when the step runs, so only the path's text is judged (symbolic links are refused then)."""
    return _lexical_problem(relative, "the working")


def _lexical_problem(relative: str, owner: str) -> str | None:
    if not relative.strip():
        return f"'{relative}' is empty; name a path inside {owner} folder"
    if "\0" in relative:
        return f"{relative!r} contains a NUL character"
    if os.path.isabs(relative) or relative.startswith("~"):
        return f"'{relative}' is an absolute path; name a path inside {owner} folder"
    if os.path.normpath(relative).split(os.sep)[0] == "..":
        return f"'{relative}' points outside {owner} folder"
    return None


def outside(folder: Path, path: Path) -> bool:
    """Whether `path` (a file found inside `folder`) really lies outside it once symbolic links are followed."""
    try:
        return not path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return True


def resolve_asset(folder: Path, relative: str, owner: str) -> Path:
    """`folder / relative`, or AssetPathError when that would lead outside `folder`."""
    problem = asset_problem(folder, relative, owner)
    if problem is not None:
        raise AssetPathError(f"{folder}: {problem}")
    return folder / relative
