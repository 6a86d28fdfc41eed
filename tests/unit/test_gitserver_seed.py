"""Seeding bare repositories from a lab's seed folder and its history file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine import proc
from engine.gitserver.seed import SeedCommit, SeedError, parse_history, plan_commits, seed_repo, seed_repos

HISTORY = """\
commits:
  - author: Maya Okafor <maya@shop.example>
    date: 2024-05-02T09:14:00+02:00
    message: Start the shop service
    paths: [README.md, app/]
  - author: Tom Becker <tom@shop.example>
    date: 2024-05-03T16:40:00-05:00
    message: |
      Add the deploy manifests

      Applied by hand for now.
    paths: [deploy/deployment.yaml]
  - author: Maya Okafor <maya@shop.example>
    date: 2024-05-06 11:02:00
    message: Deploy on every push
"""

FILES = {
    "README.md": "# shop\n",
    "app/main.py": "print('shop')\n",
    "app/util.py": "X = 1\n",
    "deploy/deployment.yaml": "kind: Deployment\n",
    "deploy/service.yaml": "kind: Service\n",
    ".driftlab/pipeline.yaml": "jobs: []\n",
}


def make_source(base: Path, name: str = "shop", history: str | None = HISTORY) -> Path:
    source = base / "repos" / name
    for path, text in FILES.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    (source / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (source / "run.sh").chmod(0o755)
    if history is not None:
        (base / "repos" / f"{name}.history.yaml").write_text(history)
    return source


def git(repo: Path, *args: str) -> str:
    result = proc.run(["git", "--git-dir", str(repo), *args])
    assert result.ok, result.stderr
    return result.stdout


def test_history_is_seeded_with_authors_dates_and_messages(tmp_path: Path) -> None:
    repo = seed_repo(tmp_path / "git", "shop", make_source(tmp_path))

    log = git(repo, "log", "--format=%an <%ae>|%cn|%aI|%s", "main").splitlines()

    assert repo == tmp_path / "git" / "shop.git"
    assert log == [
        "Maya Okafor <maya@shop.example>|Maya Okafor|2024-05-06T11:02:00+00:00|Deploy on every push",
        "Tom Becker <tom@shop.example>|Tom Becker|2024-05-03T16:40:00-05:00|Add the deploy manifests",
        "Maya Okafor <maya@shop.example>|Maya Okafor|2024-05-02T09:14:00+02:00|Start the shop service",
    ]
    assert git(repo, "log", "-1", "--format=%B", "main~1").strip() == (
        "Add the deploy manifests\n\nApplied by hand for now."
    )


def test_each_commit_adds_its_paths_and_the_last_adds_the_rest(tmp_path: Path) -> None:
    repo = seed_repo(tmp_path / "git", "shop", make_source(tmp_path))

    def added(rev: str) -> list[str]:
        return sorted(git(repo, "show", "--name-only", "--format=", rev).split())

    assert added("main~2") == ["README.md", "app/main.py", "app/util.py"]
    assert added("main~1") == ["deploy/deployment.yaml"]
    assert added("main") == [".driftlab/pipeline.yaml", "deploy/service.yaml", "run.sh"]
    assert git(repo, "show", "main:app/main.py") == FILES["app/main.py"]
    assert "100755 blob" in git(repo, "ls-tree", "main", "run.sh")


def test_repository_is_bare_on_main_with_the_push_hook_and_no_remote(tmp_path: Path) -> None:
    repo = seed_repo(tmp_path / "git", "shop", make_source(tmp_path))

    assert git(repo, "rev-parse", "--is-bare-repository").strip() == "true"
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(repo, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
    assert proc.run(["git", "--git-dir", str(repo), "config", "--get-regexp", "^remote"]).stdout == ""
    assert (repo / "hooks" / "post-receive").is_file()
    assert [p.name for p in (tmp_path / "git").iterdir()] == ["shop.git"]


def test_seeding_is_deterministic(tmp_path: Path) -> None:
    source = make_source(tmp_path)

    first = git(seed_repo(tmp_path / "a", "shop", source), "rev-parse", "main")
    second = git(seed_repo(tmp_path / "b", "shop", source), "rev-parse", "main")

    assert first == second


def test_an_existing_repository_is_left_alone(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    repo = seed_repo(tmp_path / "git", "shop", source)
    head = git(repo, "rev-parse", "main")
    (source / "README.md").write_text("changed\n")

    assert seed_repo(tmp_path / "git", "shop", source) == repo
    assert git(repo, "rev-parse", "main") == head


def test_without_a_history_file_there_is_one_initial_commit(tmp_path: Path) -> None:
    repo = seed_repo(tmp_path / "git", "plain", make_source(tmp_path, "plain", history=None))

    assert git(repo, "log", "--format=%an|%s", "main").splitlines() == ["driftlab|Initial commit"]


def test_history_can_be_given_as_commits(tmp_path: Path) -> None:
    commits = [
        SeedCommit("Ana", "ana@example.com", datetime(2024, 1, 1, tzinfo=UTC), "One\n", ("README.md",)),
        SeedCommit("Bo", "bo@example.com", datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=1))), "Two\n"),
    ]
    repo = seed_repo(tmp_path / "git", "shop", make_source(tmp_path, history=None), commits)

    assert git(repo, "log", "--format=%an|%s", "main").splitlines() == ["Bo|Two", "Ana|One"]


def test_seed_repos_seeds_every_folder(tmp_path: Path) -> None:
    make_source(tmp_path, "shop")
    make_source(tmp_path, "docs", history=None)

    assert seed_repos(tmp_path / "git", tmp_path / "repos") == ["docs", "shop"]
    assert seed_repos(tmp_path / "git", tmp_path / "nothing") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("commits: [", "history.yaml:1: not valid YAML"),
        ("- a\n", "holds one key, `commits`"),
        ("commits: []\n", "non-empty list"),
        ("commits:\n  - just text\n", "history.yaml:2: commit 1: expected author"),
        (
            "commits:\n  - author: A <a@x.org>\n    date: 2024-01-01\n    message: m\n    colour: red\n",
            "unknown key\\(s\\) colour",
        ),
        ("commits:\n  - author: A <a@x.org>\n    message: m\n", "date is missing"),
        ("commits:\n  - author: Nobody\n    date: 2024-01-01T00:00:00\n    message: m\n", "Name <email"),
        ("commits:\n  - author: A <a@x.org>\n    date: yesterday\n    message: m\n", "ISO 8601"),
        ("commits:\n  - author: A <a@x.org>\n    date: 2024-01-01T00:00:00\n    message: ''\n", "non-empty"),
        (
            "commits:\n  - author: A <a@x.org>\n    date: 2024-01-01T00:00:00\n    message: m\n"
            "  - author: A <a@x.org>\n    date: 2024-01-02T00:00:00\n    message: n\n",
            "history.yaml:2: commit 1: only the last commit may leave out paths",
        ),
        (
            "commits:\n  - author: A <a@x.org>\n    date: 2024-01-02T00:00:00\n    message: m\n    paths: [a]\n"
            "  - author: A <a@x.org>\n    date: 2024-01-01T00:00:00\n    message: n\n",
            "history.yaml:6: commit 2: its date .* is before",
        ),
        (
            "commits:\n  - author: A <a@x.org>\n    date: 2024-01-01T00:00:00\n    message: m\n    paths: [../x]\n",
            "must stay inside",
        ),
        (
            "commits:\n  - author: A <a@x.org>\n    date: 2024-01-01T00:00:00\n    message: m\n    paths: [/etc]\n",
            "must stay inside",
        ),
    ],
)
def test_bad_history_files_name_the_line_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        parse_history(text, "history.yaml")


def commit(message: str, *paths: str) -> SeedCommit:
    return SeedCommit("A", "a@x.org", datetime(2024, 1, 1, tzinfo=UTC), message + "\n", paths)


def test_plan_refuses_missing_paths_and_empty_commits(tmp_path: Path) -> None:
    source = make_source(tmp_path, history=None)

    with pytest.raises(SeedError, match=r"'nope\.txt' is not in"):
        plan_commits(source, [commit("one", "nope.txt"), commit("two")])
    with pytest.raises(SeedError, match="commit 2 \\('two'\\): adds no file"):
        plan_commits(source, [commit("one", "app"), commit("two", "app/main.py"), commit("three")])
    with pytest.raises(SeedError, match="commit 2 \\('two'\\): adds no file"):
        plan_commits(source, [commit("one", "app", "deploy", "README.md", "run.sh", ".driftlab"), commit("two")])


def test_a_folder_after_one_of_its_files_adds_the_rest(tmp_path: Path) -> None:
    source = make_source(tmp_path, history=None)

    plan = plan_commits(source, [commit("one", "app/main.py"), commit("two", "app/"), commit("three")])

    assert plan[:2] == [["app/main.py"], ["app/util.py"]]


def test_missing_seed_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="no seed folder"):
        seed_repo(tmp_path / "git", "shop", tmp_path / "missing")
    assert not (tmp_path / "git" / "shop.git").exists()


def test_a_folder_in_the_way_that_is_no_repository_is_reported(tmp_path: Path) -> None:
    (tmp_path / "git" / "shop.git").mkdir(parents=True)

    with pytest.raises(SeedError, match="not a bare Git repository"):
        seed_repo(tmp_path / "git", "shop", make_source(tmp_path))
