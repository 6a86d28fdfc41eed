"""Errors of the simulated workloads; each message is meant for the user."""

from __future__ import annotations

from collections.abc import Sequence

from ....errors import DriftlabError


class WorkloadError(DriftlabError):
    """Base of the workload package's errors."""


class CatalogueError(WorkloadError):
    """An image catalogue could not be loaded; each entry of `errors` reads `FILE:LINE:COL: message`."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class InvalidImageReference(WorkloadError):
    """An image reference the container runtime would refuse; the message is the runtime's own."""


class NotListening(WorkloadError):
    """The container has no HTTP server on the requested port, so a client gets `connection refused`."""
