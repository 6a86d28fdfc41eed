"""The Git server's own errors: each message says what is wrong and what to do."""

from __future__ import annotations

from ..errors import DriftlabError


class GitServerError(DriftlabError):
    """A problem with the lab's Git server, its repositories or its credentials."""


class RepoPathError(GitServerError):
    """A request path that names no repository this server serves; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
