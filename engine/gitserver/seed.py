"""Seeding a lab's repositories with a short, realistic history (GitPython).

The content of repository `<name>` is the folder `labs/<lab>/repos/<name>/`, exactly as the files are at
the last commit. Its history lives beside that folder in `labs/<lab>/repos/<name>.history.yaml`:

    commits:
      - author: Maya Okafor <maya@shop.example>
        date: 2024-05-02T09:14:00+02:00
        message: Start the shop service
        paths: [README.md, app/]
      - author: Tom Becker <tom@shop.example>
        date: 2024-05-03T16:40:00+02:00
        message: |
          Add the deploy manifests

          A Deployment and a Service; applied by hand for now.
        paths: [deploy/]
      - author: Maya Okafor <maya@shop.example>
        date: 2024-05-06T11:02:00+02:00
        message: Deploy on every push

Each commit adds the files under its `paths` (files or folders, relative to the repository folder) that no
earlier commit added, in their final content; the last commit adds everything still missing, so it needs no
`paths`. `author` is `Name <email>` and is also the committer; `date` is an ISO 8601 time (a time without
an offset is UTC) and dates may not go backwards. Every commit must add something. Because names, dates and
contents are all fixed (GitPython writes the files as they are, with no filters or line-ending conversion),
seeding gives the same commit ids on every machine. Without a history file the repository gets one commit,
"Initial commit", by `driftlab <driftlab@localhost>`.

Seeding builds the history in a scratch work tree, fetches it into a bare repository beside the target and
renames that into place, so `<root>/<name>.git` either does not exist or is complete; an existing repository
is left alone (only its push hook is refreshed). The default branch is `main`. The seeded head's id is kept
in the file `driftlab-seed` inside the bare repository (`seeded_head`), so checks can tell the learner's
commits from the seeded ones.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import git
import yaml

from .errors import GitServerError
from .hooks import install_hook
from .repos import check_repo_name, is_bare_repo, repo_path

BRANCH = "main"
HISTORY_SUFFIX = ".history.yaml"
SEED_HEAD_FILE = "driftlab-seed"
_AUTHOR_RE = re.compile(r"^\s*([^<>\n]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$")
_COMMIT_KEYS = {"author", "date", "message", "paths"}
DEFAULT_AUTHOR = "driftlab <driftlab@localhost>"
DEFAULT_DATE = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


class SeedError(GitServerError):
    """Seed content or its history file is not usable; the message names the file and the commit."""


@dataclass(frozen=True)
class SeedCommit:
    """One commit of a seed history."""

    author_name: str
    author_email: str
    date: datetime
    message: str
    paths: tuple[str, ...] = ()

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"


def history_file(source_dir: Path) -> Path:
    """Where the history of the seed folder `repos/<name>/` lives: `repos/<name>.history.yaml`."""
    return Path(source_dir).parent / f"{Path(source_dir).name}{HISTORY_SUFFIX}"


def default_history() -> list[SeedCommit]:
    name, email = _parse_author(DEFAULT_AUTHOR, "default")
    return [SeedCommit(name, email, DEFAULT_DATE, "Initial commit")]


def load_history(path: Path) -> list[SeedCommit]:
    """Read and check a history file; errors say `FILE:LINE: ...`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise SeedError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_history(text, str(path))


def parse_history(text: str, source: str = "history") -> list[SeedCommit]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise SeedError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict) or set(data) != {"commits"}:
        raise SeedError(f"{source}:1: a history file holds one key, `commits`, with a list of commits")
    commits = data["commits"]
    if not isinstance(commits, list) or not commits:
        raise SeedError(f"{source}:1: `commits` must be a non-empty list")
    lines = _item_lines(node, len(commits))
    parsed = []
    for index, entry in enumerate(commits):
        where = f"{source}:{lines[index]}: commit {index + 1}"
        commit = _parse_commit(entry, where, last=index == len(commits) - 1)
        if parsed and commit.date < parsed[-1].date:
            raise SeedError(f"{where}: its date {commit.date.isoformat()} is before the commit above it")
        parsed.append(commit)
    return parsed


def _item_lines(node: yaml.Node | None, count: int) -> list[int]:
    """1-based line of each commit in the file, for error messages."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "commits" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return [1] * count


def _parse_author(value: Any, where: str) -> tuple[str, str]:
    match = _AUTHOR_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise SeedError(f"{where}: author must look like `Name <email@example.com>`, not {value!r}")
    return match.group(1), match.group(2)


def _parse_date(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise SeedError(f"{where}: date must be ISO 8601 like 2024-05-02T09:14:00+02:00, not {value!r}") from None
    if not isinstance(value, datetime):
        raise SeedError(f"{where}: date must be a time like 2024-05-02T09:14:00+02:00, not {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_paths(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise SeedError(f"{where}: paths must be a list of file or folder names")
    for item in value:
        _check_path(item, where)
    return tuple(value)


def _check_path(item: str, where: str) -> None:
    pure = PurePosixPath(item)
    if pure.is_absolute() or ".." in pure.parts or "\\" in item or ".git" in pure.parts:
        raise SeedError(f"{where}: path {item!r} must stay inside the repository folder")


def _parse_commit(entry: Any, where: str, last: bool) -> SeedCommit:
    if not isinstance(entry, dict):
        raise SeedError(f"{where}: expected author, date, message and paths")
    unknown = sorted(set(map(str, entry)) - _COMMIT_KEYS)
    if unknown:
        raise SeedError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: author, date, message, paths")
    for key in ("author", "date", "message"):
        if key not in entry:
            raise SeedError(f"{where}: {key} is missing")
    message = entry["message"]
    if not isinstance(message, str) or not message.strip():
        raise SeedError(f"{where}: message must be non-empty text")
    paths = _parse_paths(entry.get("paths"), where)
    if not paths and not last:
        raise SeedError(f"{where}: only the last commit may leave out paths (it adds everything else)")
    name, email = _parse_author(entry["author"], where)
    return SeedCommit(name, email, _parse_date(entry["date"], where), message.strip() + "\n", paths)


def _seed_files(source_dir: Path) -> list[str]:
    """Every file (and symlink) of the seed folder, as sorted POSIX paths relative to it."""
    files = []
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if ".git" in relative.parts or (path.is_dir() and not path.is_symlink()):
            continue
        files.append(relative.as_posix())
    return files


def plan_commits(source_dir: Path, history: Sequence[SeedCommit], source: str = "history") -> list[list[str]]:
    """Which files each commit adds; raises when a path is missing or a commit would add nothing."""
    files = _seed_files(source_dir)
    if not files:
        raise SeedError(f"{source_dir}: the seed folder has no files")
    if not history:
        raise SeedError(f"{source}: a history needs at least one commit")
    remaining = list(files)
    plan = []
    for index, commit in enumerate(history):
        where = f"{source}: commit {index + 1} ({(commit.message.splitlines() or [''])[0]!r})"
        chosen: dict[str, None] = {}
        if not commit.message.strip():
            raise SeedError(f"{where}: message must be non-empty text")
        for given in commit.paths:
            _check_path(given, where)
            item = PurePosixPath(given).as_posix()
            if not (source_dir / item).exists() and not (source_dir / item).is_symlink():
                raise SeedError(f"{where}: {given!r} is not in {source_dir}")
            chosen.update((f, None) for f in remaining if f == item or f.startswith(item + "/"))
        if index == len(history) - 1:
            chosen.update((f, None) for f in remaining)
        if not chosen:
            raise SeedError(f"{where}: adds no file that an earlier commit did not add")
        remaining = [f for f in remaining if f not in chosen]
        plan.append(sorted(chosen))
    return plan


def _git_date(value: datetime) -> str:
    """git's internal date format, `<epoch seconds> <+hhmm>`, which keeps the author's offset."""
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{int(value.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _build_history(work: Path, source_dir: Path, history: Sequence[SeedCommit], plan: list[list[str]]) -> git.Repo:
    repo = git.Repo.init(work)
    repo.git.symbolic_ref("HEAD", f"refs/heads/{BRANCH}")
    for commit, files in zip(history, plan, strict=True):
        for name in files:
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source_dir / name, target, follow_symlinks=False)
        repo.index.add(files)
        actor = git.Actor(commit.author_name, commit.author_email)
        date = _git_date(commit.date)
        repo.index.commit(
            commit.message.strip() + "\n",
            author=actor,
            committer=actor,
            author_date=date,
            commit_date=date,
            skip_hooks=True,
        )
    return repo


def seed_repo(root: Path, name: str, source_dir: Path, history: Sequence[SeedCommit] | Path | None = None) -> Path:
    """Create the bare repository `<root>/<name>.git` from a seed folder, unless it exists already.

    `history` is a list of commits, a history file, or None for the file beside the folder (when there is
    one). Returns the repository's path.
    """
    target = repo_path(root, check_repo_name(name))
    if target.exists() or target.is_symlink():
        if not is_bare_repo(target):
            raise SeedError(f"{target} exists but is not a bare Git repository; move it away and seed again")
        install_hook(target)
        return target
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise SeedError(f"no seed folder for repository {name!r} at {source_dir}")
    source = str(history) if isinstance(history, Path) else str(history_file(source_dir))
    if history is None:
        commits = load_history(history_file(source_dir)) if history_file(source_dir).is_file() else default_history()
    elif isinstance(history, Path):
        commits = load_history(history)
    else:
        commits = list(history)
    plan = plan_commits(source_dir, commits, source)
    Path(root).mkdir(parents=True, exist_ok=True)
    staging = Path(root) / f".seed-{name}-{secrets.token_hex(4)}"
    try:
        with tempfile.TemporaryDirectory(prefix="driftlab-seed-") as scratch:
            work = _build_history(Path(scratch), source_dir, commits, plan)
            bare = git.Repo.init(staging, bare=True)
            bare.git.symbolic_ref("HEAD", f"refs/heads/{BRANCH}")
            # fetch rather than push: a push would run the learner's global pre-push hooks, if any
            bare.git.fetch(str(scratch), f"refs/heads/{BRANCH}:refs/heads/{BRANCH}")
            (staging / SEED_HEAD_FILE).write_text(work.head.commit.hexsha + "\n")
            work.close()
            bare.close()
        install_hook(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.exists():
                raise
            install_hook(target)
    except git.GitCommandError as err:
        raise SeedError(f"seeding repository {name!r} failed: {err.stderr.strip() or err}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def seeded_head(repo: Path) -> str | None:
    """The commit id the repository had when it was seeded; None when it was seeded without the record."""
    try:
        text = (Path(repo) / SEED_HEAD_FILE).read_text().strip()
    except OSError:
        return None
    return text if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text) else None


def seed_repos(root: Path, repos_dir: Path) -> list[str]:
    """Seed every repository folder of a lab (`labs/<lab>/repos/*/`); returns their names, sorted."""
    repos_dir = Path(repos_dir)
    if not repos_dir.is_dir():
        return []
    names = []
    for entry in sorted(repos_dir.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            seed_repo(root, entry.name, entry)
            names.append(entry.name)
    return names
