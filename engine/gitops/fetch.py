"""Fetching a source's revision from a Git server, as Flux's source-controller and Argo CD's repo-server do.

Each source keeps a bare mirror in the agent's cache folder; a fetch updates it over HTTP with the source's
credentials (never written to disk: git receives them through an environment-only credential helper) and
resolves the ref. `checkout` then writes the tree of one commit into a folder, for a build.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .. import proc
from ..errors import DriftlabError

GIT_TIMEOUT = 60.0


class FetchError(DriftlabError):
    """The repository could not be fetched; `auth` says whether the server refused the credentials."""

    def __init__(self, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.auth = auth


@dataclass(frozen=True)
class Ref:
    """What to fetch: a branch, a tag or a commit (a commit wins, as in Flux)."""

    branch: str | None = None
    tag: str | None = None
    commit: str | None = None

    def revision(self, sha: str) -> str:
        """Flux's revision string: `main@sha1:<hex>`, `v1.0@sha1:<hex>` or `sha1:<hex>`."""
        if self.commit and not self.branch:
            return f"sha1:{sha}"
        name = self.tag if self.tag and not self.branch else self.branch
        return f"{name}@sha1:{sha}" if name else f"sha1:{sha}"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def fetch(
    url: str, ref: Ref, mirror: Path, credentials: Credentials | None = None, timeout: float = GIT_TIMEOUT
) -> str:
    """Update the bare `mirror` of `url` and return the commit `ref` points to."""
    _check_url(url)
    if not (mirror / "HEAD").is_file():
        shutil.rmtree(mirror, ignore_errors=True)
        mirror.mkdir(parents=True, exist_ok=True)
        _git(["init", "--bare", "--quiet", str(mirror)], timeout=timeout)
    refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
    _git(["-C", str(mirror), "fetch", "--prune", "--quiet", url, *refspecs], credentials, timeout)
    return _resolve(mirror, ref)


def checkout(mirror: Path, sha: str, into: Path) -> Path:
    """Write the tree of commit `sha` into the empty folder `into` (no .git); returns `into`."""
    into.mkdir(parents=True, exist_ok=True)
    result = proc.run(
        ["sh", "-ec", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "sh", str(mirror), sha, str(into)],
        timeout=GIT_TIMEOUT,
    )
    if not result.ok:
        raise FetchError(f"cannot check out commit {sha[:12]}: {result.stderr.strip()}")
    return into


def _resolve(mirror: Path, ref: Ref) -> str:
    if ref.commit:
        wanted, what = f"{ref.commit}^{{commit}}", f"commit '{ref.commit}'"
        if ref.branch:
            ancestry = ["merge-base", "--is-ancestor", ref.commit, f"refs/heads/{ref.branch}"]
            if not proc.run(["git", "-C", str(mirror), *ancestry]).ok:
                raise FetchError(f"commit '{ref.commit}' is not on branch '{ref.branch}'")
    elif ref.tag and not ref.branch:
        wanted, what = f"refs/tags/{ref.tag}^{{commit}}", f"tag '{ref.tag}'"
    else:
        branch = ref.branch or "master"
        wanted, what = f"refs/heads/{branch}", f"branch '{branch}'"
    result = proc.run(["git", "-C", str(mirror), "rev-parse", "--verify", "--quiet", wanted], timeout=GIT_TIMEOUT)
    if not result.ok:
        raise FetchError(f"unable to resolve {what}: not found in the repository")
    return result.stdout.strip()


def run_git(args: list[str], credentials: Credentials | None = None, timeout: float = GIT_TIMEOUT) -> proc.Result:
    """Run git non-interactively, with `credentials` handed over through the environment only (no prompt, no
    helper of the user's, nothing written to disk); FetchError when it takes longer than `timeout`."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "echo", "GIT_CONFIG_NOSYSTEM": "1"}
    config: list[str] = ["-c", "credential.helper="]
    if credentials is not None:
        env.update({"DRIFTLAB_FETCH_USER": credentials.username, "DRIFTLAB_FETCH_PASSWORD": credentials.password})
        helper = '!f() { echo "username=$DRIFTLAB_FETCH_USER"; echo "password=$DRIFTLAB_FETCH_PASSWORD"; }; f'
        config += ["-c", f"credential.helper={helper}"]
    try:
        return proc.run(["git", *config, *args], env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FetchError(f"git timed out after {timeout:g}s") from None


def _git(args: list[str], credentials: Credentials | None = None, timeout: float = GIT_TIMEOUT) -> None:
    result = run_git(args, credentials, timeout)
    if not result.ok:
        message = _first_error(result.stderr)
        auth = "Authentication failed" in result.stderr or "403" in result.stderr or "401" in result.stderr
        raise FetchError(message, auth=auth)


def _first_error(stderr: str) -> str:
    lines = [line.removeprefix("fatal: ").removeprefix("error: ").strip() for line in stderr.splitlines()]
    return next((line for line in lines if line), "git failed")


def _check_url(url: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https", "ssh") or not parsed.netloc:
        raise FetchError(f"invalid URL {url!r}: the scheme must be http, https or ssh (scp-style is not supported)")
    if parsed.username or parsed.password:
        raise FetchError(f"invalid URL {url!r}: credentials belong in the secretRef, not in the URL")
