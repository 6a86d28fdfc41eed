"""The embedded Flux controllers' own error: what went wrong, in the words the condition message will carry."""

from __future__ import annotations

from ...errors import DriftlabError


class FluxError(DriftlabError):
    """A reconcile step failed; `reason` is the condition reason Flux would set for it."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
