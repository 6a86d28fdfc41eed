"""Tell real GitOps agents of a push at once, as Flux's Receiver and Argo CD's Git webhook do.

On the embedded cluster the lab daemon hands each push to driftlab's own controllers. On kind the agents are the
real Flux and Argo CD, which would only see a push at their next poll (a minute for a GitRepository, about three
for an Application). The lab daemon asks them to look now, with the same annotations a Receiver, `flux
reconcile` or `argocd app get --refresh` set: `reconcile.fluxcd.io/requestedAt` on every GitRepository that
follows the pushed ref, `argocd.argoproj.io/refresh` on every Application whose source does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..cluster.client import JSON, KubeClient
from ..cluster.errors import ClusterError
from ..gitserver.events import PushEvent
from .argo.repo import matches_push, repo_name
from .flux.errors import FluxError
from .flux.refs import GitRef, is_pushed_repository
from .reconcile import REFRESH, REQUESTED_AT, request_stamp
from .status import API_VERSIONS

log = logging.getLogger(__name__)


def flux_sources(sources: Iterable[JSON], event: PushEvent, git_servers: Sequence[str]) -> list[JSON]:
    """The GitRepositories a push moves: not suspended, on this Git server's repository, following the ref."""
    moved = []
    for source in sources:
        spec = source.get("spec") or {}
        url = spec.get("url")
        if spec.get("suspend") is True or not isinstance(url, str):
            continue
        if not is_pushed_repository(url, event.repo, git_servers):
            continue
        try:
            follows = GitRef.parse(spec.get("ref")).follows(event.ref)
        except FluxError:
            continue
        if follows:
            moved.append(source)
    return moved


def argo_applications(apps: Iterable[JSON], event: PushEvent) -> list[JSON]:
    """The Applications whose source (or one of whose sources) a push moves."""
    moved = []
    for app in apps:
        spec = app.get("spec") or {}
        sources = [spec.get("source") or {}, *(spec.get("sources") or [])]
        for source in sources:
            url = source.get("repoURL") if isinstance(source, dict) else None
            if (
                isinstance(url, str)
                and repo_name(url) == event.repo
                and matches_push(source.get("targetRevision"), event.ref)
            ):
                moved.append(app)
                break
    return moved


class PushNotifier:
    """Annotates the real agents' objects on every push; each push is handled on a thread of its own so the
    Git server answers the pusher without waiting for the cluster."""

    def __init__(self, kubeconfig: Path, agents: Sequence[str], git_servers: Sequence[str] = ()) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.agents = list(agents)
        self.git_servers = list(git_servers)
        self._client: KubeClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> KubeClient:
        """One client for every push (its discovery is kept), made at the first push."""
        with self._lock:
            if self._client is None:
                self._client = KubeClient(self.kubeconfig)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def on_push(self, event: PushEvent) -> None:
        if not self.agents or event.deleted or (event.branch is None and not event.ref.startswith("refs/tags/")):
            return
        threading.Thread(target=self.notify, args=(event,), name=f"notify-{event.repo}", daemon=True).start()

    def notify(self, event: PushEvent) -> list[str]:
        """Annotate what the push moves; returns `Kind namespace/name` of each object annotated."""
        done: list[str] = []
        if "flux" in self.agents:
            done += self._annotate(self.client, "GitRepository", REQUESTED_AT, request_stamp(), event)
        if "argocd" in self.agents:
            done += self._annotate(self.client, "Application", REFRESH, "normal", event)
        return done

    def _annotate(self, client: KubeClient, kind: str, annotation: str, value: str, event: PushEvent) -> list[str]:
        try:
            resource = client.resolve(kind, API_VERSIONS[kind])
            objects, _ = client.list(resource)
        except ClusterError as err:
            log.warning("cannot list %s objects to tell of the push to %s: %s", kind, event.repo, err)
            return []
        moved = (
            flux_sources(objects, event, self.git_servers)
            if kind == "GitRepository"
            else argo_applications(objects, event)
        )
        done = []
        for obj in moved:
            metadata = obj.get("metadata") or {}
            name, namespace = str(metadata.get("name")), metadata.get("namespace")
            try:
                client.patch(resource, name, namespace, {"metadata": {"annotations": {annotation: value}}})
            except ClusterError as err:
                log.warning("cannot annotate %s %s/%s after the push to %s: %s", kind, namespace, name, event.repo, err)
                continue
            done.append(f"{kind} {namespace}/{name}")
            log.info("push to %s %s: asked %s %s/%s to reconcile", event.repo, event.ref, kind, namespace, name)
        return done
