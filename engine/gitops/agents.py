"""The embedded GitOps agents of one lab: Flux's source and kustomize controllers, Argo CD's application
controller. The lab's daemon hosts them next to the Git server.

`GitOpsAgents.start()` installs the agents' CRDs and starts their controllers against the lab's cluster; from
then on they behave like the real agents running in it (they only talk to the API and to the Git server, with
the credentials their objects name). `on_push` is the Git server's push callback: it queues every source that
follows the pushed repository, as Flux's Receiver and Argo CD's webhook do, so a push goes live without waiting
for the poll interval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..cluster.client import KubeClient
from ..gitserver.events import PushEvent
from . import crds
from .controller import Controller, Timing, wait_synced

log = logging.getLogger(__name__)


def build_controllers(
    agent: str, client: KubeClient, cache: Path, timing: Timing, git_servers: Sequence[str] = ()
) -> list[Controller]:
    """The controllers of one agent (`flux` or `argocd`); `git_servers` are the lab's Git server's base URLs."""
    if agent == "flux":
        from .flux import controllers as flux_controllers

        return flux_controllers(client, cache / "flux", timing, git_servers)
    if agent == "argocd":
        from .argo import controllers as argo_controllers

        return argo_controllers(client, cache / "argocd", timing)
    raise ValueError(f"unknown GitOps agent {agent!r}; known: {', '.join(crds.AGENTS)}")


class GitOpsAgents:
    """The named agents (`flux`, `argocd`) of a lab, against the cluster its kubeconfig names."""

    def __init__(self, kubeconfig: Path, cache: Path, agents: Sequence[str], timing: Timing | None = None) -> None:
        self.client = KubeClient(kubeconfig)
        self.cache = Path(cache)
        self.agents = list(agents)
        self.timing = timing or Timing()
        self.controllers: list[Controller] = []
        self.git_servers: list[str] = []

    def start(self) -> None:
        """Install the CRDs, start every controller, and return once each has listed its objects."""
        if not self.agents:
            return
        crds.install(self.client, self.agents)
        for agent in self.agents:
            self.controllers.extend(build_controllers(agent, self.client, self.cache, self.timing, self.git_servers))
        for controller in self.controllers:
            controller.start()
        wait_synced(self.controllers)
        log.info("GitOps agents running: %s", ", ".join(c.name for c in self.controllers))

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        self.controllers.clear()
        self.client.close()

    def on_push(self, event: PushEvent) -> None:
        """Queue whatever follows the pushed repository; may be called from any thread."""
        if event.branch is None and not event.ref.startswith("refs/tags/"):
            return
        for controller in self.controllers:
            for key in controller.keys_for_push(event.repo, event.ref):
                controller.enqueue(key)
