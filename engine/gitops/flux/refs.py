"""A GitRepository's `spec.ref` and `spec.url`: which commit it follows, how Flux names the revision, and which
pushes concern it.

Flux picks one field when several are set: `commit` > `name` > `semver` > `tag` > `branch`, and follows branch
`master` when `ref` is absent. The revision string names what was followed (`main@sha1:<hex>`,
`v1.0@sha1:<hex>`, `refs/heads/main@sha1:<hex>`, or `sha1:<hex>` for a bare commit).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..fetch import Ref
from . import status
from .errors import FluxError

DEFAULT_BRANCH = "master"


@dataclass(frozen=True)
class GitRef:
    """`spec.ref` of a GitRepository, as written."""

    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None

    @classmethod
    def parse(cls, spec_ref: Any) -> GitRef:
        if spec_ref is None:
            return cls(branch=DEFAULT_BRANCH)
        if not isinstance(spec_ref, dict):
            raise FluxError("spec.ref must be an object with branch, tag, semver, name or commit", status.URL_INVALID)
        values = {key: _text(spec_ref.get(key)) for key in ("branch", "tag", "semver", "name", "commit")}
        if not any(values.values()):
            values["branch"] = DEFAULT_BRANCH
        return cls(**values)

    def fetch_ref(self) -> Ref:
        """What to resolve in the fetched mirror; FluxError for refs the embedded source-controller cannot follow."""
        if self.commit:
            return Ref(branch=self.branch, commit=self.commit)
        if self.name:
            if self.name.startswith("refs/heads/"):
                return Ref(branch=self.name.removeprefix("refs/heads/"))
            if self.name.startswith("refs/tags/"):
                return Ref(tag=self.name.removeprefix("refs/tags/"))
            raise FluxError(
                f"ref.name '{self.name}' is not supported here: use refs/heads/<branch> or refs/tags/<tag>",
                status.GIT_OPERATION_FAILED,
            )
        if self.semver:
            raise FluxError(
                f"ref.semver '{self.semver}' is not supported by the embedded source-controller: use ref.tag",
                status.GIT_OPERATION_FAILED,
            )
        if self.tag:
            return Ref(tag=self.tag)
        return Ref(branch=self.branch or DEFAULT_BRANCH)

    def revision(self, sha: str) -> str:
        """Flux's `status.artifact.revision` for commit `sha`."""
        if self.commit:
            return f"{self.branch}@sha1:{sha}" if self.branch else f"sha1:{sha}"
        if self.name:
            return f"{self.name}@sha1:{sha}"
        if self.tag:
            return f"{self.tag}@sha1:{sha}"
        return f"{self.branch or DEFAULT_BRANCH}@sha1:{sha}"

    def remote_ref(self) -> str | None:
        """The full ref name this follows (None for a bare commit)."""
        if self.commit and not self.branch:
            return None
        if self.name:
            return self.name
        if self.tag and not self.commit:
            return f"refs/tags/{self.tag}"
        return f"refs/heads/{self.branch or DEFAULT_BRANCH}"

    def follows(self, pushed_ref: str) -> bool:
        """Whether a push that moved `pushed_ref` (a full ref name) can change what this resolves to."""
        if self.semver and not self.commit and not self.name:
            return pushed_ref.startswith("refs/tags/")
        return self.remote_ref() == pushed_ref


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value) else None


def check_url(url: Any) -> str:
    """The URL if Flux accepts it (http, https or ssh://); FluxError with reason URLInvalid otherwise."""
    if not isinstance(url, str) or not url:
        raise FluxError("spec.url is required", status.URL_INVALID)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https", "ssh") or not parsed.netloc:
        raise FluxError(
            f"failed to parse url '{url}': URL scheme must be one of http, https or ssh "
            "(the scp-like form user@host:repo is not supported)",
            status.URL_INVALID,
        )
    return url


def repository_of(url: str) -> tuple[str, str]:
    """(`host:port`, repository name without `.git`) of a Git URL; the port defaults by scheme."""
    parsed = urllib.parse.urlsplit(url)
    port = parsed.port or {"http": 80, "https": 443, "ssh": 22}.get(parsed.scheme, 0)
    host = (parsed.hostname or "").lower()
    name = parsed.path.strip("/").removesuffix(".git")
    return f"{host}:{port}", name


def is_pushed_repository(url: str, repo: str, servers: Collection[str]) -> bool:
    """Whether `url` names lab repository `repo` on this Git server (any server when `servers` is empty)."""
    try:
        where, name = repository_of(url)
    except ValueError:
        return False
    if name != repo:
        return False
    return not servers or where in {server_address(server) for server in servers}


def server_address(server: str) -> str:
    """`host:port` of a Git server given as a base URL (`http://127.0.0.1:8080`) or already as `host:port`."""
    if "://" in server:
        return repository_of(server)[0]
    return server.lower()
