"""A fresh checkout of the pushed commit for each run, and what a push's commit says before it is checked out.

Each run gets `<root>/run-<id>/`: `src/` is a local clone of the bare repo at the pushed commit (on a branch
named like the pushed one, as CI systems do), beside it the files the runner writes for the run (its
kubeconfig), outside the checkout so a step's `git status` stays clean. The folder goes when the run ends;
folders left by a crash go at the next start.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PipelineError

if TYPE_CHECKING:
    import git

_REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def bare_repo(repos_root: Path, name: str) -> Path:
    """The bare repository `<root>/<name>.git`, refusing names that would reach outside the root."""
    if not _REPO_NAME.fullmatch(name) or ".." in name or name.endswith(".git"):
        raise PipelineError(f"{name!r} is not a repository name")
    return repos_root / f"{name}.git"


@dataclass(frozen=True)
class PushedCommit:
    """What the runner needs to know about a pushed commit before queuing a run for it."""

    sha: str
    message: str
    author: str
    pipeline: str | None  # the text of .driftlab/pipeline.yaml, None when the commit has none


def _git_error(action: str, err: Exception) -> PipelineError:
    detail = getattr(err, "stderr", "") or str(err)
    return PipelineError(f"{action}: {detail.strip()}")


def _file_text(commit: git.Commit, path: str) -> str | None:
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    return blob.data_stream.read().decode("utf-8", "replace") if blob.type == "blob" else None


def read_commit(bare: Path, sha: str) -> PushedCommit:
    """Message, author and pipeline file of a commit in a bare repo (blocking: call it in a thread)."""
    import git  # GitPython and the pipeline model load at the first push, not while the lab's daemon starts

    from .model import PIPELINE_FILE

    if not bare.is_dir():
        raise PipelineError(f"there is no repository at {bare}")
    try:
        with git.Repo(bare) as repo:
            commit = repo.commit(sha)
            text = _file_text(commit, PIPELINE_FILE)
            author = f"{commit.author.name} <{commit.author.email}>"
            message = str(commit.message)
            return PushedCommit(commit.hexsha, message, author, text)
    except (git.GitError, ValueError) as err:
        raise _git_error(f"cannot read commit {sha[:12]} of {bare.name}", err) from None


@dataclass(frozen=True)
class Workspace:
    folder: Path

    @property
    def source(self) -> Path:
        """The checkout: the steps' working folder."""
        return self.folder / "src"

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    @classmethod
    def for_run(cls, root: Path, run_id: int) -> Workspace:
        return cls(root / f"run-{run_id}")

    def checkout(self, bare: Path, sha: str, branch: str) -> None:
        """Clone the bare repo locally (hard links, no network) and check out `sha` (blocking)."""
        import git

        self.remove()
        self.folder.mkdir(parents=True, mode=0o700)
        try:
            clone = git.Repo.clone_from(str(bare), str(self.source), multi_options=["--local", "--no-checkout"])
            with clone:
                clone.git.checkout("-B", branch, sha)
        except git.GitError as err:
            raise _git_error(f"cannot check out {sha[:12]}", err) from None

    def write_kubeconfig(self, text: str) -> Path:
        """The run's own copy of the cluster credentials, readable only by the runner's user."""
        self.kubeconfig.touch(mode=0o600)
        self.kubeconfig.write_text(text)
        return self.kubeconfig

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep(root: Path) -> None:
    """Remove the run folders a crashed runner left behind."""
    if root.is_dir():
        for folder in root.glob("run-*"):
            shutil.rmtree(folder, ignore_errors=True)
