"""Embedded Flux: the source-controller (GitRepository) and kustomize-controller (Kustomization) of one lab.

`controllers(client, cache, timing)` builds both over one artifact storage in `cache`; the lab's agents start
them. `git_servers` (base URLs or `host:port`) names the lab's Git server, so a push queues only the
GitRepositories that point at it; when empty, a repository name match on any host is enough.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ...cluster.client import KubeClient
from ..controller import Controller, Timing
from .kustomize import KustomizationController
from .source import GitRepositoryController
from .storage import Storage


def controllers(client: KubeClient, cache: Path, timing: Timing, git_servers: Collection[str] = ()) -> list[Controller]:
    """The GitRepository and Kustomization controllers, wired so a new artifact reconciles its users at once."""
    cache = Path(cache)
    storage = Storage(cache / "storage")
    sources = GitRepositoryController(client, timing, cache, storage, git_servers)
    kustomizations = KustomizationController(client, timing, storage, sources, cache)
    sources.on_new_artifact(kustomizations.source_changed)
    return [sources, kustomizations]


__all__ = ["GitRepositoryController", "KustomizationController", "Storage", "controllers"]
