"""An Application's state at one revision: its desired objects, their live counterparts and the verdicts.

What Argo CD's app state manager computes on every refresh and again at the start of every sync: resolve the
revision (or reuse the one compared last, for a refresh caused by a live change), generate the manifests,
place them, read the live objects from the cache, compare, and assess health. Objects that are desired but
absent are Missing. A source that cannot be rendered gives a ComparisonError and the sync status Unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ...cluster.api import ApiResource
from ...cluster.client import KubeClient
from ...cluster.errors import ClusterError
from ..fetch import Credentials
from . import health
from .compare import UNKNOWN, Comparison, Resource, compare
from .fields import dig, sequence
from .health import Health
from .live import LiveState
from .manifests import ManifestError, ManifestGenerator, Source
from .repo import REPO_CREDS, REPOSITORY, SECRET_TYPE_LABEL, SHA_RE, credentials_for
from .targets import Targets, prepare
from .tracking import CONTROLLER_NAMESPACE, ResourceKey, instance_name

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MANIFEST_ERROR = (
    "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = "
)


@dataclass
class AppState:
    """The outcome of one comparison."""

    revision: str | None
    comparison: Comparison
    types: dict[ResourceKey, ApiResource | None] = field(default_factory=dict)
    healths: dict[ResourceKey, Health | None] = field(default_factory=dict)
    health: str = health.HEALTHY
    source_type: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def sync_status(self) -> str:
        return UNKNOWN if self.error else self.comparison.status

    def lives(self) -> list[JSON]:
        return [r.live for r in self.comparison.resources if r.live is not None]


class StateLoader:
    """Computes app states from the Git source and the live state cache."""

    def __init__(self, client: KubeClient, live: LiveState, generator: ManifestGenerator) -> None:
        self.client = client
        self.live = live
        self.generator = generator

    def load(self, app: JSON, revision: str | None = None, *, resolve: bool = True) -> AppState:
        """The app's state at `revision` (its targetRevision when None); `resolve` asks the remote what it names."""
        spec = app.get("spec") or {}
        instance = instance_name(app)
        sha: str | None = None
        try:
            source = Source.of(spec)
            sha = revision if revision and (SHA_RE.match(revision) or not resolve) else None
            manifests = self.generator.cached(source, sha) if sha else None
            if manifests is None:
                credentials = self.credentials(app, source.repo_url)
                sha = sha or self.generator.resolve(source, revision, credentials)
                manifests = self.generator.generate(source, sha, credentials)
        except ManifestError as err:
            return self._failed(app, instance, sha, MANIFEST_ERROR + str(err))
        namespace = (spec.get("destination") or {}).get("namespace")
        targets = prepare(manifests.objects, instance, namespace, self.live.resource)
        self.watch(app, targets)
        lives = self.live.tracked(instance)
        for key in targets.objects:
            found = self.live.get(key)
            if found is not None:
                lives[key] = found
        comparison = compare(targets.objects, lives)
        state = AppState(
            sha, comparison, targets.resources, source_type=manifests.source_type, warnings=targets.warnings
        )
        self._assess(state)
        return state

    def _failed(self, app: JSON, instance: str, sha: str | None, message: str) -> AppState:
        self.watch(app)
        resources = [
            Resource(key, _version(obj), None, obj, UNKNOWN) for key, obj in self.live.tracked(instance).items()
        ]
        state = AppState(sha, Comparison(sorted(resources, key=lambda r: r.key)), error=message)
        self._assess(state)
        return state

    def _assess(self, state: AppState) -> None:
        for resource in state.comparison.resources:
            state.healths[resource.key] = health.assess(resource.live) if resource.live else Health(health.MISSING)
        keys = [r.key for r in state.comparison.resources]
        state.health = health.aggregate(
            [state.healths[k] for k in keys], [r.live is not None for r in state.comparison.resources]
        )

    def watch(self, app: JSON, targets: Targets | None = None) -> None:
        """Informers for every kind the app wants now or had before (so removed objects are still seen)."""
        wanted = {(r.group, r.kind): r for r in (targets or Targets()).resources.values() if r is not None}
        for entry in sequence(dig(app, "status").get("resources")):
            if not isinstance(entry, dict) or not entry.get("kind"):
                continue
            group, kind = str(entry.get("group") or ""), str(entry["kind"])
            if (group, kind) not in wanted and self.live.informer(group, kind) is None:
                found = self.live.resource(group, kind, str(entry.get("version") or "") or None)
                if found is not None:
                    wanted[(group, kind)] = found
        self.live.watch(wanted.values())

    def credentials(self, app: JSON, url: str) -> Credentials | None:
        """Repository credentials from Secrets in the app's namespace (then Argo CD's own namespace)."""
        namespace = str((app.get("metadata") or {}).get("namespace") or CONTROLLER_NAMESPACE)
        selector = f"{SECRET_TYPE_LABEL} in ({REPOSITORY},{REPO_CREDS})"
        secrets: list[JSON] = []
        try:
            resource = self.client.resolve("Secret", "v1")
            for where in dict.fromkeys((namespace, CONTROLLER_NAMESPACE)):
                secrets.extend(self.client.list(resource, where, label_selector=selector)[0])
        except ClusterError as err:
            log.info("argocd: cannot read repository secrets: %s", err)
        return credentials_for(url, secrets)


def _version(obj: JSON) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[2]
