"""Git checks: files at a branch head and commit messages, read from a lab's bare repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine import paths
from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate, plan
from engine.checks.kinds import git as git_kind
from engine.checks.memory import MemoryCluster
from engine.checks.spec import Check, GitCheck
from engine.gitserver.seed import SEED_HEAD_FILE, seed_repo, seeded_head

LAB = "shop"


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Learner",
        "GIT_AUTHOR_EMAIL": "me@example.com",
        "GIT_COMMITTER_NAME": "Learner",
        "GIT_COMMITTER_EMAIL": "me@example.com",
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(driftlab_home: Path, tmp_path: Path) -> Path:
    """A lab repo `app` seeded with deploy/web.yaml (replicas: 1), and a work clone to commit from."""
    source = tmp_path / "seed" / "app"
    (source / "deploy").mkdir(parents=True)
    (source / "deploy" / "web.yaml").write_text("kind: Deployment\nspec:\n  replicas: 1\n")
    (source / "README.md").write_text("# app\n")
    return seed_repo(paths.git_repos_dir(LAB), "app", source)


def push(bare: Path, tmp_path: Path, message: str, files: dict[str, str | None]) -> str:
    """Commit in a clone and bring the commit into the bare repo (fetch: no push hooks run)."""
    work = tmp_path / "work"
    if not work.exists():
        _git(tmp_path, "clone", "-q", str(bare), str(work))
    for name, text in files.items():
        if text is None:
            _git(work, "rm", "-q", name)
        else:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
            _git(work, "add", name)
    _git(work, "commit", "-q", "-m", message)
    _git(bare, "fetch", "-q", str(work), "main:main")
    return _git(work, "rev-parse", "HEAD").strip()


def check(**fields: object) -> GitCheck:
    return GitCheck.model_validate({"repo": "app", **fields})


def context(lab: str | None = LAB) -> CheckContext:
    return CheckContext(MemoryCluster(), lab=lab)


def verdict(body: GitCheck, lab: str | None = LAB) -> git_kind.Verdict:
    return git_kind.judge(body, git_kind.read(body, context(lab)))


def test_seeding_records_the_seeded_head(repo: Path) -> None:
    head = _git(repo, "rev-parse", "main").strip()
    assert seeded_head(repo) == head
    assert (repo / SEED_HEAD_FILE).read_text() == head + "\n"


def test_a_file_that_contains_the_text_passes_and_one_without_it_fails(repo: Path, tmp_path: Path) -> None:
    body = check(file="deploy/web.yaml", contains="replicas: 3")
    before = verdict(body)
    short = _git(repo, "rev-parse", "--short=7", "main").strip()
    assert before.passed is False
    assert (
        before.message == f'app@main: expected deploy/web.yaml to contain "replicas: 3", found it without (at {short})'
    )
    head = push(repo, tmp_path, "Scale web to 3", {"deploy/web.yaml": "kind: Deployment\nspec:\n  replicas: 3\n"})
    after = verdict(body)
    assert (after.passed, after.message) == (True, f'app@main: deploy/web.yaml contains "replicas: 3" (at {head[:7]})')


def test_matches_exists_and_absent(repo: Path, tmp_path: Path) -> None:
    assert verdict(check(file="deploy/web.yaml", matches=r"^\s+replicas: [1-9]$")).passed is True
    wrong = verdict(check(file="deploy/web.yaml", matches=r"replicas: [2-9]"))
    assert wrong.message.startswith("app@main: expected deploy/web.yaml to match replicas: [2-9], found no match")
    missing = verdict(check(file="deploy/service.yaml"))
    assert missing.passed is False
    assert "expected deploy/service.yaml to exist, found no such file at" in missing.message
    assert verdict(check(file="deploy")).passed is True
    folder = verdict(check(file="deploy", contains="x"))
    assert "expected deploy to be a file, found a folder" in folder.message
    present = verdict(check(file="README.md", absent=True))
    assert present.passed is False and "expected README.md to be absent, found the file at" in present.message
    head = push(repo, tmp_path, "Drop the readme", {"README.md": None})
    gone = verdict(check(file="README.md", absent=True))
    assert (gone.passed, gone.message) == (True, f"app@main: README.md is absent at {head[:7]}")


def test_commit_messages_since_the_seed_count_only_the_learners_commits(repo: Path, tmp_path: Path) -> None:
    seeded = verdict(check(message="(?i)initial"))
    assert seeded.passed is True and seeded.message.endswith('"Initial commit" matches (?i)initial')
    none_yet = verdict(check(message="(?i)initial", sinceSeed=True))
    assert none_yet.passed is False
    assert none_yet.message.startswith(
        "app@main: expected a commit since the seed with a message matching (?i)initial, found no commits since"
    )
    head = push(repo, tmp_path, "Scale web to 3\n\nMore load expected.", {"notes.txt": "x\n"})
    assert verdict(check(message="(?i)initial", sinceSeed=True)).message == (
        "app@main: expected a commit since the seed with a message matching (?i)initial, found none in the newest 1"
        f' ({"newest: " + head[:7]} "Scale web to 3")'
    )
    found = verdict(check(message="^More load", sinceSeed=True))
    assert (found.passed, found.message) == (True, f'app@main: commit {head[:7]} "Scale web to 3" matches ^More load')


def test_without_a_seed_record_every_commit_counts(repo: Path) -> None:
    (repo / SEED_HEAD_FILE).unlink()
    assert verdict(check(message="Initial", sinceSeed=True)).passed is True


def test_missing_lab_repo_or_branch_fail_clearly(repo: Path) -> None:
    assert verdict(check(repo="web", file="x")).message == "the lab has no Git repository 'web'"
    assert verdict(check(repo="../git/app", file="x")).message == "the lab has no Git repository '../git/app'"
    assert verdict(check(branch="prod", file="x")).message == "app has no branch 'prod'"
    no_lab = verdict(check(file="x"), lab=None)
    assert no_lab.passed is False and "Git repository 'app'" in no_lab.message
    assert verdict(check()).message.startswith("app@main: head is ")


def test_titles() -> None:
    assert git_kind.title(check(file="deploy/web.yaml", contains="replicas: 3")) == (
        'app@main: deploy/web.yaml contains "replicas: 3"'
    )
    assert git_kind.title(check(branch="dev", message="fix", sinceSeed=True)) == (
        "app@dev: a commit since the seed with a message matching fix"
    )


@pytest.mark.parametrize(
    "bad", [{"contains": "x"}, {"file": "a", "absent": True, "contains": "x"}, {"sinceSeed": True}, {"message": "("}]
)
def test_inconsistent_git_checks_are_refused_when_the_course_loads(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        check(**bad)


def test_the_evaluator_runs_git_checks_and_the_watcher_times_them(repo: Path) -> None:
    checks = [Check.model_validate({"git": {"repo": "app", "file": "README.md"}})]
    result = evaluate(checks, context())
    assert result.passed is True
    assert result.results[0].name == "app@main: README.md exists"
    assert result.results[0].kind == "git"
    assert plan(checks, context()).lab_state is True
