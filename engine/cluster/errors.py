"""What can go wrong when talking to a cluster, for every client of its API (checks, agents, the lab)."""

from __future__ import annotations

from ..errors import DriftlabError


class ClusterError(DriftlabError):
    """State could not be read or written; the message says why, in words a learner can act on."""


class UnknownKind(ClusterError):
    """The cluster serves no resource by that name."""


class Unreachable(ClusterError):
    """The API server did not answer (not started, restarting, or gone)."""


class Expired(ClusterError):
    """A watch asked for a resourceVersion the server no longer keeps; list again."""


class ApiError(ClusterError):
    """The API server answered with an error Status: its HTTP code, reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404: no such object (or no such resource type)."""


class Conflict(ApiError):
    """409: the object changed since it was read, already exists, or an apply conflicts with another manager."""
