"""`git`: a file at the head of a branch of the lab's Git server, or a commit message on that branch.

`read` looks into the bare repository (read-only, no work tree) and returns a `GitState`; `judge` is a pure
function of that state, so it can be tested without a repository. The Git server lives in the lab's daemon,
so no Kubernetes watch sees a push: the watcher re-evaluates these checks on its slow timer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine import paths

from ..context import CheckContext
from ..spec import GitCheck
from .common import Verdict

if TYPE_CHECKING:
    import git

HISTORY_LIMIT = 50
EXCERPT_LIMIT = 60


@dataclass(frozen=True)
class Commit:
    """One commit of the branch, newest first; `after_seed` is False for commits the lab seeded."""

    sha: str
    message: str
    after_seed: bool = True

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def summary(self) -> str:
        lines = self.message.strip().splitlines()
        return lines[0] if lines else ""


@dataclass(frozen=True)
class GitState:
    """What was read of one branch: an error, or its head, the checked file and the newest commits."""

    error: str = ""
    head: str = ""
    file_kind: str | None = None  # "file", "folder", or None when the path is not in the head commit
    text: str = ""
    commits: tuple[Commit, ...] = field(default=())

    @property
    def short(self) -> str:
        return self.head[:7]


def title(body: GitCheck) -> str:
    where = _where(body)
    if body.file is not None:
        if body.absent:
            return f"{where}: {body.file} is absent"
        if body.contains is not None:
            return f"{where}: {body.file} contains {_quoted(body.contains)}"
        if body.matches is not None:
            return f"{where}: {body.file} matches {body.matches}"
        return f"{where}: {body.file} exists"
    if body.message is not None:
        since = " since the seed" if body.since_seed else ""
        return f"{where}: a commit{since} with a message matching {body.message}"
    return f"{where} exists"


def _where(body: GitCheck) -> str:
    return f"{body.repo}@{body.branch}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\n", "\\n") + '"'


# Reading --------------------------------------------------------------------------------------------------


def read(body: GitCheck, context: CheckContext) -> GitState:
    """Read the branch of the lab's bare repository that the check names. GitPython is imported here, on the
    first git check, so that apps and labs without one never load it."""
    import git

    from engine.gitserver.repos import find_repo

    if context.lab is None:
        return GitState(error=f"no lab to read: the Git repository {body.repo!r} exists only in a lab")
    path = find_repo(paths.git_repos_dir(context.lab), body.repo)
    if path is None:
        return GitState(error=f"the lab has no Git repository {body.repo!r}")
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitState(error=f"the lab has no Git repository {body.repo!r}")
    try:
        return _read_branch(repo, path, body)
    finally:
        repo.close()


def _read_branch(repo: git.Repo, path: Path, body: GitCheck) -> GitState:
    import git

    from engine.gitserver.seed import seeded_head

    try:
        head = repo.commit(f"refs/heads/{body.branch}")
    except (git.BadName, ValueError, git.GitCommandError):
        return GitState(error=f"{body.repo} has no branch {body.branch!r}")
    kind, text = _file(head, body.file) if body.file is not None else (None, "")
    commits: tuple[Commit, ...] = ()
    if body.message is not None:
        seed = seeded_head(path)
        after = _after_seed(repo, head.hexsha, seed) if seed else None
        commits = tuple(
            Commit(c.hexsha, str(c.message), after is None or c.hexsha in after)
            for c in repo.iter_commits(head.hexsha, max_count=HISTORY_LIMIT)
        )
    return GitState(head=head.hexsha, file_kind=kind, text=text, commits=commits)


def _file(head: git.Commit, name: str) -> tuple[str | None, str]:
    try:
        item = head.tree / name.strip("/")
    except KeyError:
        return None, ""
    if item.type == "tree":
        return "folder", ""
    return "file", item.data_stream.read().decode("utf-8", errors="replace")


def _after_seed(repo: git.Repo, head: str, seed: str) -> set[str] | None:
    """Commits reachable from the head but not from the seeded head; None when the seed is gone."""
    import git

    try:
        listed = repo.git.rev_list(head, f"^{seed}", max_count=HISTORY_LIMIT)
    except git.GitCommandError:
        return None
    return set(listed.split())


# Judging --------------------------------------------------------------------------------------------------


def judge(body: GitCheck, state: GitState) -> Verdict:
    """Every condition the check names must hold; the first that does not is the message."""
    where = _where(body)
    if state.error:
        return Verdict(False, state.error, _expected(body), "no such repository or branch")
    verdicts: list[Verdict] = []
    if body.file is not None:
        verdicts.append(_judge_file(body, body.file, state))
    if body.message is not None:
        verdicts.append(_judge_message(body, body.message, state))
    if not verdicts:
        verdicts.append(Verdict(True, f"head is {state.short}", "the branch exists", f"head {state.short}"))
    failed = next((verdict for verdict in verdicts if not verdict.passed), None)
    chosen = failed or verdicts[-1]
    message = "; ".join(v.message for v in verdicts) if failed is None else chosen.message
    return Verdict(chosen.passed, f"{where}: {message}", chosen.expected, chosen.found)


def _expected(body: GitCheck) -> str:
    return title(body).split(": ", 1)[-1]


def _judge_file(body: GitCheck, name: str, state: GitState) -> Verdict:
    at = state.short
    if body.absent:
        if state.file_kind is None:
            return Verdict(True, f"{name} is absent at {at}", "no such file", "no such file")
        found = "a folder" if state.file_kind == "folder" else "the file"
        return Verdict(False, f"expected {name} to be absent, found {found} at {at}", "no such file", found)
    if state.file_kind is None:
        return Verdict(False, f"expected {name} to exist, found no such file at {at}", "the file", "no such file")
    wants_text = body.contains is not None or body.matches is not None
    if wants_text and state.file_kind == "folder":
        return Verdict(False, f"expected {name} to be a file, found a folder at {at}", "a file", "a folder")
    if body.contains is not None and body.contains not in state.text:
        wanted = f"to contain {_quoted(body.contains)}"
        return Verdict(False, f"expected {name} {wanted}, found it without (at {at})", wanted, "it without")
    if body.matches is not None and re.search(body.matches, state.text, re.MULTILINE) is None:
        wanted = f"to match {body.matches}"
        return Verdict(False, f"expected {name} {wanted}, found no match (at {at})", wanted, "no match")
    if body.contains is not None:
        return Verdict(True, f"{name} contains {_quoted(body.contains)} (at {at})", "the text", "the text")
    if body.matches is not None:
        return Verdict(True, f"{name} matches {body.matches} (at {at})", "a match", "a match")
    return Verdict(True, f"{name} exists at {at}", "the file", state.file_kind)


def _judge_message(body: GitCheck, pattern: str, state: GitState) -> Verdict:
    counted = [commit for commit in state.commits if commit.after_seed or not body.since_seed]
    since = " since the seed" if body.since_seed else ""
    wanted = f"a commit{since} with a message matching {pattern}"
    for commit in counted:
        if re.search(pattern, commit.message, re.MULTILINE):
            found = f"commit {commit.short} {_quoted(_excerpt(commit.summary))}"
            return Verdict(True, f"{found} matches {pattern}", wanted, found)
    if not counted:
        found = f"no commits{since}"
        return Verdict(False, f"expected {wanted}, found no commits{since} (head {state.short})", wanted, found)
    newest = counted[0]
    found = f"newest: {newest.short} {_quoted(_excerpt(newest.summary))}"
    message = f"expected {wanted}, found none in the newest {len(counted)} ({found})"
    return Verdict(False, message, wanted, "no matching commit")


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"
