"""Repository names and the request paths that reach them, checked before any subprocess runs.

A repository `shop` is the bare repository `<root>/shop.git`. Only git's smart-HTTP endpoints are served:
`/<name>.git/info/refs`, `/<name>.git/git-upload-pack` and `/<name>.git/git-receive-pack`. Names are
lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit; a path with percent-escapes,
backslashes, empty, `.` or `..` segments is refused outright, and a repository whose real location (after
symlinks) is not inside the root does not exist as far as the server is concerned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import GitServerError, RepoPathError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
SUFFIX = ".git"
UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
ENDPOINTS = ("info/refs", UPLOAD_PACK, RECEIVE_PACK)


def check_repo_name(name: str) -> str:
    """Repository names end up in paths and URLs, so they are kept to a small, unambiguous alphabet."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name or name.endswith(SUFFIX):
        raise GitServerError(
            f"invalid repository name {name!r}: use lowercase letters, digits, '.', '_' and '-', starting with a "
            "letter or digit, without '..' and without the '.git' suffix (at most 100 characters)"
        )
    return name


def repo_path(root: Path, name: str) -> Path:
    """Where the bare repository `name` lives (or would live) under `root`."""
    return Path(root) / f"{check_repo_name(name)}{SUFFIX}"


def is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def find_repo(root: Path, name: str) -> Path | None:
    """The bare repository `name`, or None when it is missing or its real location leaves the root."""
    try:
        path = repo_path(root, name)
        real = path.resolve(strict=True)
        real_root = Path(root).resolve(strict=True)
    except (GitServerError, OSError, RuntimeError):
        return None
    if real == real_root or not real.is_relative_to(real_root) or not is_bare_repo(real):
        return None
    return path


def list_repos(root: Path) -> list[str]:
    """Names of the repositories the server would serve, sorted."""
    if not Path(root).is_dir():
        return []
    names = []
    for entry in Path(root).iterdir():
        name = entry.name.removesuffix(SUFFIX)
        if entry.name.endswith(SUFFIX) and _NAME_RE.match(name) and find_repo(root, name) is not None:
            names.append(name)
    return sorted(names)


@dataclass(frozen=True)
class RepoRequest:
    """A request path taken apart: which repository, which smart-HTTP endpoint."""

    repo: str
    endpoint: str  # one of ENDPOINTS

    @property
    def path_info(self) -> str:
        return f"/{self.repo}{SUFFIX}/{self.endpoint}"


def parse_request_path(raw_path: str) -> RepoRequest:
    """Check the path exactly as the client sent it (before any decoding) and name the repository it asks for."""
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/") or any(c in path for c in "%\\\x00") or not path.isprintable():
        raise RepoPathError("driftlab: bad repository path")
    segments = path[1:].split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise RepoPathError("driftlab: bad repository path")
    first, rest = segments[0], "/".join(segments[1:])
    if not first.endswith(SUFFIX):
        raise RepoPathError("driftlab: repositories are served as /<name>.git", status=404)
    try:
        name = check_repo_name(first.removesuffix(SUFFIX))
    except GitServerError:
        raise RepoPathError("driftlab: bad repository name") from None
    if rest not in ENDPOINTS:
        raise RepoPathError(
            "driftlab: only git's smart HTTP protocol is served here; use git clone/fetch/push", status=404
        )
    return RepoRequest(name, rest)
