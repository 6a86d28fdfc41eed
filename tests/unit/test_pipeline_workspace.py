"""Reading a pushed commit from the bare repo and checking it out fresh for a run, with the real git."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import proc
from engine.pipeline import PipelineError
from engine.pipeline.workspace import Workspace, bare_repo, read_commit, sweep


def git(cwd: Path, *args: str) -> str:
    result = proc.run(["git", "-c", "user.name=Bo Builder", "-c", "user.email=bo@example.com", *args], cwd=cwd)
    assert result.ok, result.stderr
    return result.stdout.strip()


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    root = tmp_path / "repos"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(root / "shop.git"))
    git(tmp_path, "clone", "-q", str(root / "shop.git"), str(tmp_path / "work"))
    return root


def commit(work: Path, message: str, files: dict[str, str], push: str = "main", force: bool = False) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    git(work, "push", "-q", *(["--force"] if force else []), "origin", f"HEAD:refs/heads/{push}")
    return git(work, "rev-parse", "HEAD")


def test_a_commit_is_read_with_its_pipeline_file(repos: Path, tmp_path: Path) -> None:
    plain = commit(tmp_path / "work", "Start", {"README.md": "hi\n"})
    sha = commit(tmp_path / "work", "Add a pipeline\n\nSo pushes deploy.", {".driftlab/pipeline.yaml": "jobs: []\n"})
    found = read_commit(repos / "shop.git", sha)
    assert (found.sha, found.author, found.pipeline) == (sha, "Bo Builder <bo@example.com>", "jobs: []\n")
    assert found.message == "Add a pipeline\n\nSo pushes deploy.\n"
    assert read_commit(repos / "shop.git", plain).pipeline is None


def test_unknown_commits_and_repos_are_pipeline_errors(repos: Path) -> None:
    with pytest.raises(PipelineError, match=r"cannot read commit ffffffffffff of shop\.git"):
        read_commit(repos / "shop.git", "f" * 40)
    with pytest.raises(PipelineError, match="there is no repository at"):
        read_commit(repos / "web.git", "f" * 40)


@pytest.mark.parametrize("name", ["../shop", "shop/../../x", "/etc", ".hidden", "shop.git", "", "a b"])
def test_repo_names_cannot_leave_the_root(tmp_path: Path, name: str) -> None:
    with pytest.raises(PipelineError, match="is not a repository name"):
        bare_repo(tmp_path, name)


def test_the_checkout_is_the_pushed_commit_even_after_a_force_push(repos: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    commit(work, "Start", {"app.txt": "1\n"})
    pushed = commit(work, "Version 2", {"app.txt": "2\n"})
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit(work, "Rewritten", {"app.txt": "3\n"}, force=True)  # the pushed commit is now on no branch
    space = Workspace.for_run(tmp_path / "runs", 7)
    space.checkout(repos / "shop.git", pushed, "main")
    assert (space.source / "app.txt").read_text() == "2\n"
    assert git(space.source, "rev-parse", "HEAD") == pushed
    assert git(space.source, "branch", "--show-current") == "main"
    assert git(space.source, "status", "--porcelain") == ""
    kubeconfig = space.write_kubeconfig("apiVersion: v1\n")
    assert kubeconfig.parent == space.folder and kubeconfig.stat().st_mode & 0o077 == 0
    space.remove()
    assert not space.folder.exists()


def test_a_checkout_that_cannot_be_made_is_a_pipeline_error(repos: Path, tmp_path: Path) -> None:
    commit(tmp_path / "work", "Start", {"app.txt": "1\n"})
    with pytest.raises(PipelineError, match="cannot check out ffffffffffff"):
        Workspace.for_run(tmp_path / "runs", 1).checkout(repos / "shop.git", "f" * 40, "main")


def test_sweep_removes_what_a_crash_left(tmp_path: Path) -> None:
    for run_id in (1, 2):
        (Workspace.for_run(tmp_path, run_id).source).mkdir(parents=True)
    (tmp_path / "keep.txt").write_text("not a run folder")
    sweep(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]
    sweep(tmp_path / "missing")
