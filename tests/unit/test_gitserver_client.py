"""What git needs to reach the server: clone URLs and a credential helper configured through the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import proc
from engine.gitserver.client import clone_url, git_config, git_env
from engine.gitserver.credentials import Account, Credentials
from engine.gitserver.errors import GitServerError

BASE = "http://127.0.0.1:8123"


def test_clone_url_names_the_repository_without_credentials() -> None:
    assert clone_url(BASE + "/", "shop") == f"{BASE}/shop.git"
    with pytest.raises(GitServerError):
        clone_url(BASE, "../shop")


def test_config_resets_other_helpers_before_adding_ours() -> None:
    account = Credentials.generate().learner
    entries = git_config([BASE, "http://172.18.0.1:8123"], account)

    assert [key for key, _ in entries] == [f"credential.{BASE}.helper"] * 2 + [
        "credential.http://172.18.0.1:8123.helper"
    ] * 2
    assert entries[0][1] == ""
    assert account.password in entries[1][1]


def test_env_appends_to_config_already_in_the_environment() -> None:
    account = Credentials.generate().learner
    env = git_env([BASE], account, {"GIT_CONFIG_COUNT": "1"})

    assert env["GIT_CONFIG_COUNT"] == "3"
    assert env["GIT_CONFIG_KEY_1"] == env["GIT_CONFIG_KEY_2"] == f"credential.{BASE}.helper"
    assert "GIT_CONFIG_KEY_0" not in env


def fill(env: dict[str, str], url: str, home: Path) -> str:
    request = f"url={url}\n\n"
    base = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": ""}
    return proc.run(["git", "credential", "fill"], env={**base, **env}, input=request).stdout


def test_git_gets_the_account_from_the_helper_for_the_servers_url_only(tmp_path: Path) -> None:
    account = Account("learner", "pa'ss$word\"`x", can_push=True)
    (tmp_path / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    env = git_env([BASE], account, {})

    answer = fill(env, f"{BASE}/shop.git", tmp_path)

    assert "username=learner\n" in answer
    assert "password=pa'ss$word\"`x\n" in answer
    assert "learner" not in fill(env, "http://example.com/shop.git", tmp_path)


def test_helper_stores_nothing(tmp_path: Path) -> None:
    account = Credentials.generate().learner
    (tmp_path / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    env = git_env([BASE], account, {})
    base = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}

    request = f"url={BASE}/shop.git\nusername=learner\npassword={account.password}\n\n"
    result = proc.run(["git", "credential", "approve"], env={**base, **env}, input=request)

    assert result.ok, result.stderr
    assert not (tmp_path / ".git-credentials").exists()


def test_line_breaks_in_credentials_are_refused() -> None:
    with pytest.raises(GitServerError):
        git_config([BASE], Account("learner", "a\nb"))
