"""Bad pushes to the lab's Git server with the real `git`: huge files, odd refs, the default branch, no repository.

Each refused push must show the pusher why (`remote: driftlab: ...`), leave every ref and object as it was
(`git fsck` clean, no quarantine left behind), report no push event, and leave the server answering. Pushes
that git allows (unicode and long branch names, tags, force pushes and deletions of other branches) go
through with correct events. No test may leave an error or a traceback in the server's log.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.gitserver.errors import GitServerError
from engine.gitserver.events import ZERO, PushEvent
from engine.gitserver.prereceive import (
    MAX_BLOB_SIZE,
    MAX_REPORTED,
    MAX_UPDATES,
    Blob,
    Update,
    blob_problems,
    problems,
)
from engine.gitserver.server import FILE_SIZE_ENV, PUSH_SIZE_ENV, GitServer

from .gitops_support import RunningServer
from .test_gitserver import Lab

LIMIT = 1024 * 1024
PUSH_LIMIT = 4 * 1024 * 1024
MAIN = "refs/heads/main"


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


@pytest.fixture
def server(lab: Lab, caplog: pytest.LogCaptureFixture) -> Iterator[GitServer]:
    """A server with small limits; after the test, its log must hold no error and no traceback."""
    caplog.set_level(logging.WARNING)
    with RunningServer(
        GitServer(lab.root, lab.credentials, lab.record, max_blob_size=LIMIT, max_push_size=PUSH_LIMIT)
    ) as s:
        yield s
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()]
    assert not bad, "\n".join(r.getMessage() for r in bad)


@pytest.fixture
def work(lab: Lab, server: GitServer) -> Path:
    return lab.clone(server)


class Git:
    """git as the learner runs it; output decoded leniently, since a ref name may hold any byte."""

    def __init__(self, lab: Lab, server: GitServer) -> None:
        self.lab, self.server = lab, server

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args],
            env={**os.environ, **self.lab.env(self.server)},
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        result = self(*args, cwd=cwd)
        assert result.returncode == 0, f"git {' '.join(args)}:\n{result.stderr}"
        return result.stdout.strip()

    def refused(self, *args: str, cwd: Path | None = None) -> str:
        """Run a push that must fail; its stderr."""
        result = self(*args, cwd=cwd)
        assert result.returncode != 0, f"git {' '.join(args)} was not refused:\n{result.stderr}"
        return result.stderr

    def commit(self, work: Path, files: dict[str, bytes], message: str = "Change") -> str:
        for name, data in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        self.ok("add", "-A", cwd=work)
        self.ok("commit", "-q", "--allow-empty", "-m", message, cwd=work)
        return self.ok("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def git(lab: Lab, server: GitServer) -> Git:
    return Git(lab, server)


def bare(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "--git-dir", str(lab.root / "shop.git"), *args], capture_output=True, text=True, errors="replace"
    )


def refs(lab: Lab) -> str:
    return bare(lab, "for-each-ref", "--format=%(objectname) %(refname)").stdout


def assert_intact(lab: Lab, git: Git, server: GitServer, before: str) -> None:
    """Refs as they were, a clean repository with no quarantine left, and a server that still serves it."""
    assert refs(lab) == before
    fsck = bare(lab, "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert not [p.name for p in (lab.root / "shop.git" / "objects").iterdir() if "incoming" in p.name]
    assert git.ok("ls-remote", server.clone_url("shop"), MAIN).split()[0] == before_main(before)


def before_main(before: str) -> str:
    return next(line.split()[0] for line in before.splitlines() if line.endswith(f" {MAIN}"))


def next_push(lab: Lab) -> PushEvent:
    return lab.next_event()[1]


def only_push_after_refusal(lab: Lab, git: Git, work: Path) -> PushEvent:
    """Push a good commit: the next event must be this one, which shows the refused push reported nothing."""
    new = git.commit(work, {"after-refusal.txt": b"fine\n"}, "A good push")
    git.ok("push", "-q", "origin", f"HEAD:{MAIN}", cwd=work)
    event = next_push(lab)
    assert (event.ref, event.new) == (MAIN, new)
    return event


# -- huge files -----------------------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_naming_it_and_nothing_is_kept(
    lab: Lab, git: Git, server: GitServer, work: Path
) -> None:
    before = refs(lab)
    big = os.urandom(LIMIT + LIMIT // 2)
    git.commit(work, {"assets/big.bin": big, "notes.txt": b"small\n"}, "Add a large asset")
    git.commit(work, {"assets/big.bin": b"replaced\n"}, "Replace it")  # still in the history being pushed

    stderr = git.refused("push", "origin", "HEAD:main", cwd=work)

    assert "remote: driftlab: assets/big.bin is 1.5 MiB (1572864 bytes); files may be at most 1.0 MiB" in stderr
    assert "(pre-receive hook declined)" in stderr
    blob = git.ok("hash-object", "assets/big.bin", cwd=work)
    blob_at_first = git.ok("rev-parse", "HEAD~1:assets/big.bin", cwd=work)
    assert bare(lab, "cat-file", "-e", blob_at_first).returncode != 0  # the large blob was not stored
    assert bare(lab, "cat-file", "-e", blob).returncode != 0
    assert_intact(lab, git, server, before)

    git.ok("reset", "-q", "--hard", "origin/main", cwd=work)
    at_limit = git.commit(work, {"assets/exact.bin": os.urandom(LIMIT)}, "A file exactly at the limit")
    git.ok("push", "-q", "origin", "HEAD:main", cwd=work)
    assert next_push(lab).new == at_limit


def test_a_pack_over_the_push_limit_is_cut_off_by_git(lab: Lab, git: Git, server: GitServer, work: Path) -> None:
    before = refs(lab)
    git.commit(work, {f"part{i}.bin": os.urandom(LIMIT - 4096) for i in range(5)}, "Five files under the limit")

    stderr = git.refused("push", "origin", "HEAD:refs/heads/bulk", cwd=work)

    assert "remote: fatal: pack exceeds maximum allowed size" in stderr
    assert_intact(lab, git, server, before)
    git.ok("reset", "-q", "--hard", "origin/main", cwd=work)
    only_push_after_refusal(lab, git, work)


def test_thousands_of_small_files_push_and_clone(lab: Lab, git: Git, server: GitServer, work: Path) -> None:
    files = {f"many/{i // 100:02d}/file{i:04d}.txt": f"line {i}\n".encode() for i in range(3000)}
    new = git.commit(work, files, "Add three thousand files")

    git.ok("push", "-q", "origin", "HEAD:main", cwd=work)

    assert next_push(lab).new == new
    again = lab.clone(server, "again")
    assert len(git.ok("ls-files", "many", cwd=again).splitlines()) == 3000
    assert (again / "many" / "29" / "file2999.txt").read_text() == "line 2999\n"


# -- odd refs -------------------------------------------------------------------------------------------------


def test_unicode_and_long_branch_names_are_stored_and_reported(lab: Lab, git: Git, work: Path) -> None:
    head = git.ok("rev-parse", "HEAD", cwd=work)
    unicode = "refs/heads/grüße/日本語-ветка"
    long = "refs/heads/" + "/".join([("x" * 250)] * 3)  # 250 bytes between slashes, 763 in all

    git.ok("push", "-q", "origin", f"HEAD:{unicode}", f"HEAD:{long}", cwd=work)

    received = [next_push(lab), next_push(lab)]
    events = {event.ref: event for event in received}
    assert set(events) == {unicode, long}
    assert all((e.old, e.new, e.pusher) == (ZERO, head, "learner") for e in received)
    assert events[unicode].branch == "grüße/日本語-ветка"
    listed = git.ok("ls-remote", "--heads", "origin", cwd=work)
    assert f"{head}\t{unicode}" in listed and f"{head}\t{long}" in listed


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("refs/heads/" + "y" * 256, "each part of a ref name between slashes may be at most 255 bytes (one has 256)"),
        ("refs/heads/" + "/".join(["z" * 200] * 6), "ref names may be at most 1024 bytes long (this one has 1216)"),
        ("refs/heads/bad\udcffname", "ref names must be UTF-8"),
    ],
    ids=["part-over-255-bytes", "name-over-1024-bytes", "not-utf-8"],
)
def test_ref_names_the_lab_cannot_store_or_report_are_refused_with_the_reason(
    lab: Lab, git: Git, server: GitServer, work: Path, ref: str, reason: str
) -> None:
    before = refs(lab)

    stderr = git.refused("push", "origin", f"HEAD:{ref}", cwd=work)

    assert "remote: driftlab: " in stderr and reason in stderr
    assert_intact(lab, git, server, before)
    only_push_after_refusal(lab, git, work)


def test_lightweight_and_annotated_tags_are_pushed_reported_and_deleted(lab: Lab, git: Git, work: Path) -> None:
    head = git.ok("rev-parse", "HEAD", cwd=work)
    git.ok("tag", "v1-light", cwd=work)
    git.ok("tag", "-a", "-m", "Release 1", "v1", cwd=work)
    tag_object = git.ok("rev-parse", "v1", cwd=work)

    git.ok("push", "-q", "origin", "v1-light", "v1", cwd=work)
    created = {event.ref: event for event in (next_push(lab), next_push(lab))}
    git.ok("push", "-q", "origin", ":refs/tags/v1-light", ":refs/tags/v1", cwd=work)
    deleted = {event.ref: event for event in (next_push(lab), next_push(lab))}

    assert created["refs/tags/v1-light"] == PushEvent("shop", "refs/tags/v1-light", ZERO, head, "learner")
    assert created["refs/tags/v1"] == PushEvent("shop", "refs/tags/v1", ZERO, tag_object, "learner")
    assert tag_object != head and created["refs/tags/v1"].branch is None
    assert deleted["refs/tags/v1-light"] == PushEvent("shop", "refs/tags/v1-light", head, ZERO, "learner")
    assert deleted["refs/tags/v1"].deleted and deleted["refs/tags/v1"].old == tag_object
    assert bare(lab, "tag", "--list").stdout == ""


# -- the default branch ---------------------------------------------------------------------------------------


def test_the_default_branch_cannot_be_deleted(lab: Lab, git: Git, server: GitServer, work: Path) -> None:
    before = refs(lab)

    alone = git.refused("push", "origin", ":main", cwd=work)
    with_another = git.refused("push", "origin", ":main", "HEAD:refs/heads/feature", cwd=work)

    message = "remote: driftlab: main is this repository's default branch and cannot be deleted"
    assert message in alone and message in with_another
    assert "pipelines and GitOps agents follow it" in alone
    assert "feature (pre-receive hook declined)" in with_another  # a push is taken whole or not at all
    assert_intact(lab, git, server, before)
    only_push_after_refusal(lab, git, work)


def test_the_default_branch_is_never_rewritten_but_other_branches_may_be(
    lab: Lab, git: Git, server: GitServer, work: Path
) -> None:
    base = git.ok("rev-parse", "HEAD", cwd=work)
    first = git.commit(work, {"a.txt": b"a\n"}, "First")
    git.ok("push", "-q", "origin", "HEAD:main", "HEAD:refs/heads/feature", cwd=work)
    assert {next_push(lab).ref, next_push(lab).ref} == {MAIN, "refs/heads/feature"}
    git.ok("reset", "-q", "--hard", base, cwd=work)
    rewritten = git.commit(work, {"b.txt": b"b\n"}, "Rewritten")
    before = refs(lab)

    stderr = git.refused("push", "--force", "origin", "HEAD:main", cwd=work)

    assert "remote: driftlab: main is this repository's default branch and its history cannot be rewritten" in stderr
    assert "`git revert`" in stderr
    assert_intact(lab, git, server, before)

    git.ok("push", "-q", "--force", "origin", "HEAD:refs/heads/feature", cwd=work)
    assert next_push(lab) == PushEvent("shop", "refs/heads/feature", first, rewritten, "learner")
    git.ok("push", "-q", "origin", ":feature", cwd=work)
    assert next_push(lab) == PushEvent("shop", "refs/heads/feature", rewritten, ZERO, "learner")
    assert bare(lab, "rev-parse", "main").stdout.strip() == first


# -- repositories ---------------------------------------------------------------------------------------------


def test_pushing_to_a_missing_repository_is_not_found_and_creates_nothing(
    lab: Lab, git: Git, server: GitServer, work: Path
) -> None:
    before = refs(lab)

    stderr = git.refused("push", server.clone_url("nothere"), "HEAD:main", cwd=work)

    assert "remote: driftlab: there is no repository 'nothere' on this server (it serves: shop)" in stderr
    assert "remote: driftlab: a push does not create a repository" in stderr
    assert f"repository '{server.clone_url('nothere')}/' not found" in stderr
    assert sorted(p.name for p in lab.root.iterdir()) == ["shop.git"]
    assert_intact(lab, git, server, before)


# -- settings -------------------------------------------------------------------------------------------------


def test_size_limits_come_from_arguments_the_environment_or_defaults(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FILE_SIZE_ENV, raising=False)
    monkeypatch.delenv(PUSH_SIZE_ENV, raising=False)
    default = GitServer(lab.root, lab.credentials, None)
    assert (default.max_blob_size, default.max_push_size) == (MAX_BLOB_SIZE, 2 * 1024**3)
    assert MAX_BLOB_SIZE == 100 * 1024 * 1024

    monkeypatch.setenv(FILE_SIZE_ENV, "2m")
    monkeypatch.setenv(PUSH_SIZE_ENV, "1G")
    configured = GitServer(lab.root, lab.credentials, None)
    assert (configured.max_blob_size, configured.max_push_size) == (2 * 1024**2, 1024**3)
    assert GitServer(lab.root, lab.credentials, None, max_blob_size=5).max_blob_size == 5

    monkeypatch.setenv(FILE_SIZE_ENV, "lots")
    with pytest.raises(GitServerError, match=f"{FILE_SIZE_ENV}='lots': give a size in bytes"):
        GitServer(lab.root, lab.credentials, None)
    with pytest.raises(GitServerError, match="positive number of bytes"):
        GitServer(lab.root, lab.credentials, None, max_blob_size=1, max_push_size=0)


def test_a_push_of_too_many_refs_and_many_large_files_are_summed_up() -> None:
    updates = [Update(ZERO, "a" * 40, f"refs/tags/t{i}".encode()) for i in range(MAX_UPDATES + 1)]
    blobs = [Blob("b" * 40, LIMIT + 1 + i, f"big{i}.bin") for i in range(MAX_REPORTED + 2)]

    assert problems(updates, LIMIT, git="/nonexistent/git") == [
        f"a push may update at most {MAX_UPDATES} refs at once (this one updates {MAX_UPDATES + 1})"
    ]
    lines = blob_problems(blobs, LIMIT)
    assert len(lines) == MAX_REPORTED + 2
    assert lines[0] == "big0.bin is 1.0 MiB (1048577 bytes); files may be at most 1.0 MiB (1048576 bytes)"
    assert lines[-2] == "... and 2 more files over the limit"
