"""What a Git client needs to reach the server: clone URLs without secrets, and credentials through git config.

`git_env` gives environment variables that configure git for the server's URLs only (git's
`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n`, git 2.31+): first an empty
`credential.<url>.helper`, which drops any helper the learner configured (so no keychain stores the lab's
password), then a shell-function helper that answers `get` with the account and ignores `store` and
`erase`. Nothing is written to disk, not in the work tree and not in the learner's git config, and the
clone URL stays free of credentials, so `git remote -v` shows nothing secret.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence

from .credentials import Account
from .errors import GitServerError
from .repos import SUFFIX, check_repo_name


def clone_url(base_url: str, name: str) -> str:
    """`http://HOST:PORT/<name>.git`: what the learner types after `git clone`."""
    return f"{base_url.rstrip('/')}/{check_repo_name(name)}{SUFFIX}"


def credential_helper(account: Account) -> str:
    """A git credential helper, as a shell snippet, that hands out this account and keeps nothing."""
    if "\n" in account.username or "\n" in account.password:
        raise GitServerError("Git credentials cannot contain line breaks")
    user, password = shlex.quote(f"username={account.username}"), shlex.quote(f"password={account.password}")
    return f'!f() {{ if test "$1" = get; then printf "%s\\n" {user} {password}; fi; }}; f'


def git_config(base_urls: Sequence[str], account: Account) -> list[tuple[str, str]]:
    """Config entries, in order, that make git use `account` for the server's URLs and for nothing else."""
    entries = []
    for url in base_urls:
        key = f"credential.{url.rstrip('/')}.helper"
        entries += [(key, ""), (key, credential_helper(account))]
    return entries


def git_env(base_urls: Sequence[str], account: Account, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment additions for git; config entries already in `environ` (default: ours) are kept."""
    environ = os.environ if environ is None else environ
    try:
        start = int(environ.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        start = 0
    env = {}
    entries = git_config(base_urls, account)
    for offset, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{start + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    env["GIT_CONFIG_COUNT"] = str(start + len(entries))
    return env
