"""The post-receive hook and the notices it sends."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine import proc
from engine.gitserver.errors import GitServerError
from engine.gitserver.events import ZERO, PushEvent
from engine.gitserver.hooks import HOOK_SCRIPT, install_hook, parse_notice

OLD, NEW = "a" * 40, "b" * 40


def test_hook_is_installed_executable_and_only_rewritten_when_changed(tmp_path: Path) -> None:
    assert proc.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")]).ok
    hook = tmp_path / "r.git" / "hooks" / "post-receive"

    assert install_hook(tmp_path / "r.git") is True
    assert install_hook(tmp_path / "r.git") is False
    assert hook.read_text() == HOOK_SCRIPT
    assert stat.S_IMODE(hook.stat().st_mode) & 0o111
    hook.write_text("#!/bin/sh\necho tampered\n")
    assert install_hook(tmp_path / "r.git") is True
    assert hook.read_text() == HOOK_SCRIPT


def test_hook_does_nothing_outside_the_server(tmp_path: Path) -> None:
    env = {k: "" for k in ("DRIFTLAB_PUSH_URL", "DRIFTLAB_PYTHON")}
    hook = tmp_path / "post-receive"
    hook.write_text(HOOK_SCRIPT)
    os.chmod(hook, 0o755)

    result = proc.run([str(hook)], env=env, input=f"{OLD} {NEW} refs/heads/main\n")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hook_warns_but_does_not_fail_when_the_server_is_gone(tmp_path: Path) -> None:
    hook = tmp_path / "post-receive"
    hook.write_text(HOOK_SCRIPT)
    os.chmod(hook, 0o755)
    env = {
        "DRIFTLAB_PUSH_URL": "http://127.0.0.1:9/_driftlab/push",
        "DRIFTLAB_PUSH_TOKEN": "t",
        "DRIFTLAB_PUSH_REPO": "shop",
        "DRIFTLAB_PYTHON": proc.tool("python"),
    }

    result = proc.run([str(hook)], env=env, input=f"{OLD} {NEW} refs/heads/main\n")

    assert result.returncode == 0
    assert "the lab was not told about this push" in result.stderr


def test_notice_becomes_events_in_order() -> None:
    notice = {
        "repo": "shop",
        "pusher": "learner",
        "updates": [
            {"old": OLD, "new": NEW, "ref": "refs/heads/main"},
            {"old": ZERO, "new": NEW, "ref": "refs/tags/v1"},
        ],
    }

    assert parse_notice(notice) == [
        PushEvent("shop", "refs/heads/main", OLD, NEW, "learner"),
        PushEvent("shop", "refs/tags/v1", ZERO, NEW, "learner"),
    ]


@pytest.mark.parametrize(
    "notice",
    [
        [],
        {"pusher": "x", "updates": []},
        {"repo": "../etc", "updates": []},
        {"repo": "shop", "updates": "x"},
        {"repo": "shop", "pusher": 3, "updates": []},
        {"repo": "shop", "updates": ["x"]},
        {"repo": "shop", "updates": [{"old": OLD, "new": NEW}]},
        {"repo": "shop", "updates": [{"old": "HEAD", "new": NEW, "ref": "refs/heads/main"}]},
        {"repo": "shop", "updates": [{"old": OLD, "new": NEW, "ref": "main"}]},
        {"repo": "shop", "updates": [{"old": OLD, "new": NEW, "ref": "refs/heads/a b"}]},
    ],
)
def test_malformed_notices_are_refused(notice: object) -> None:
    with pytest.raises(GitServerError):
        parse_notice(notice)
