"""The embedded Argo CD: the application controller, reconciling `Application` objects from the lab's Git.

Modules, one job each: `application` (the controller: queueing, refreshes, status writes), `state` (desired
against live at one revision), `manifests` and `repo` (the repo-server's part: credentials, revisions,
rendering), `targets` and `tracking` (placing desired objects, which live objects belong to which app),
`compare`, `health`, `autosync` (the pure rules), `sync`, `operation` and `finalizer` (what is written to the
cluster), `live` (the live state cache), `options` (sync options) and `status` (the status shapes).
"""

from __future__ import annotations

from pathlib import Path

from ...cluster.client import KubeClient
from ..controller import Controller, Timing
from .application import ApplicationController

__all__ = ["ApplicationController", "controllers"]


def controllers(client: KubeClient, cache: Path, timing: Timing) -> list[Controller]:
    """The controllers of the embedded Argo CD (the application controller)."""
    return [ApplicationController(client, cache, timing)]
