"""The Deployment controller: claims ReplicaSets by selector and rolls a Deployment out through them.

One pass mirrors the real syncDeployment: a Deployment being deleted only gets its status; a paused one or a
resized one is scaled without a rollout; otherwise the strategy (RollingUpdate or Recreate) moves pods from
old ReplicaSets to the one matching the current template. Every pass is idempotent, and `start` looks at every
Deployment again, so a restarted daemon carries on where it stopped.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Hashable
from typing import Any

from ...events import EventRecorder
from ...rest import Api, WriteOptions
from ...selectors import Requirement, labels_match
from ...settings import ClusterSettings
from ...status import ApiError
from .. import podutil
from ..base import Controller
from ..replicasets import (
    MANAGER,
    PODS,
    REPLICASETS,
    Backoff,
    ObjectCache,
    key_of,
    lookup,
    selector_of,
)
from .client import Client
from .recreate import rollout_recreate
from .replicas import RECREATE, ROLLING_UPDATE, DeploymentError
from .rolling import rollout_rolling
from .sync import check_paused_conditions, is_scaling_event, sync, sync_status_only

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEPLOYMENTS = "apps/deployments"


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        self.deployment_type = lookup(api, "apps", "v1", "deployments")
        self.rs_type = lookup(api, "apps", "v1", "replicasets")
        self.pod_type = lookup(api, "", "v1", "pods")
        self.deployments = ObjectCache(api, self.deployment_type)
        self.replica_sets = ObjectCache(api, self.rs_type, index_owners=True)
        self.pods = ObjectCache(api, self.pod_type, index_owners=True)
        self.recorder = EventRecorder(api, self.name)
        self.client = Client(
            api, self.deployment_type, self.rs_type, self.recorder, self.deployments.get, self._requeue
        )
        self.backoff = Backoff()
        self._opts = WriteOptions(field_manager=MANAGER)

    # Events -----------------------------------------------------------------------------------------

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == DEPLOYMENTS:
            self.deployments.observe(event_type, obj)
            return [key_of(obj)]
        if resource == REPLICASETS:
            self.replica_sets.observe(event_type, obj)
            return self._keys_for_replica_set(event_type, obj, old)
        if resource == PODS:
            self.pods.observe(event_type, obj)
            return self._keys_for_deleted_pod(obj) if event_type == "DELETED" else []
        return []

    def _keys_for_replica_set(self, event_type: str, rs: Obj, old: Obj | None) -> list[Hashable]:
        namespace = rs["metadata"].get("namespace", "")
        keys: list[Hashable] = []
        for version in (rs, old):
            owner = self._resolve(namespace, podutil.controller_of(version) if version is not None else None)
            if owner is not None and key_of(owner) not in keys:
                keys.append(key_of(owner))
        orphan = podutil.controller_of(rs) is None
        relabelled = old is None or _labels(old) != _labels(rs) or podutil.controller_of(old) is not None
        if event_type != "DELETED" and orphan and relabelled:
            keys.extend(k for k in (key_of(d) for d in self._matching(rs)) if k not in keys)
        return keys

    def _keys_for_deleted_pod(self, pod: Obj) -> list[Hashable]:
        """A Recreate rollout waits for old pods to be gone, so their deletion is worth a look."""
        namespace = pod["metadata"].get("namespace", "")
        ref = podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return []
        rs = self.replica_sets.get(namespace, str(ref.get("name", "")))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return []
        d = self._resolve(namespace, podutil.controller_of(rs))
        if d is None or ((d.get("spec") or {}).get("strategy") or {}).get("type") != RECREATE:
            return []
        return [key_of(d)]

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment" or not str(ref.get("apiVersion", "")).startswith("apps/"):
            return None
        d = self.deployments.get(namespace, str(ref.get("name", "")))
        return d if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, rs: Obj) -> list[Obj]:
        found = []
        for d in self.deployments.in_namespace(rs["metadata"].get("namespace", "")):
            try:
                selector = selector_of(d)
            except ApiError:
                continue
            if selector and labels_match(selector, rs):
                found.append(d)
        return found

    def start(self) -> None:
        for d in self.deployments.all():
            self.enqueue(key_of(d))

    def _requeue(self, d: Obj, seconds: float) -> None:
        self.enqueue_after(key_of(d), seconds)

    # Reconcile --------------------------------------------------------------------------------------

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        namespace, name = key
        cached = self.deployments.get(namespace, name)
        if cached is None:
            self.backoff.forget(key)
            return
        d = working_copy(cached)
        try:
            try:
                self.sync_deployment(d)
            finally:
                self.client.flush(d)
        except (ApiError, DeploymentError) as err:
            if isinstance(err, ApiError) and err.code == 404:
                return
            log.info("%s: syncing %s/%s: %s", self.name, namespace, name, err.message)
            self.enqueue_after(key, self.backoff.next_delay(key))
            return
        self.backoff.forget(key)

    def sync_deployment(self, d: Obj) -> None:
        """One pass over a (copied) Deployment, in the order of the real syncDeployment."""
        c = self.client
        if not (d.get("spec") or {}).get("selector"):
            self._selecting_all(d)
            return
        selector = selector_of(d)
        rs_list = self._claim_replica_sets(d, selector)
        if podutil.is_terminating(d):
            sync_status_only(c, d, rs_list)
            return
        check_paused_conditions(c, d)
        if (d.get("spec") or {}).get("paused") or is_scaling_event(c, d, rs_list):
            sync(c, d, rs_list)
            return
        strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type")
        if strategy == RECREATE:
            rollout_recreate(c, d, rs_list, self._pod_map(rs_list))
        elif strategy == ROLLING_UPDATE:
            rollout_rolling(c, d, rs_list)
        else:
            raise DeploymentError(f"unexpected deployment strategy type: {strategy}")

    def _selecting_all(self, d: Obj) -> None:
        message = "This deployment is selecting all pods. A non-empty selector is required."
        self.client.event(d, "Warning", "SelectingAll", message)
        generation = int(d["metadata"].get("generation") or 0)
        status = d.setdefault("status", {})
        if int(status.get("observedGeneration") or 0) < generation:
            status["observedGeneration"] = generation
            self.client.update_status(d)

    def _claim_replica_sets(self, d: Obj, selector: list[Requirement]) -> list[Obj]:
        """Adopt matching orphan sets, release owned sets that stopped matching; returns the owned ones."""
        uid = d["metadata"]["uid"]
        namespace = d["metadata"]["namespace"]
        claimed = []
        for rs in self.replica_sets.owned_by(uid) + self.replica_sets.orphans(namespace):
            matches = bool(selector) and labels_match(selector, rs)
            if podutil.controller_of(rs) is not None:
                if matches:
                    claimed.append(rs)
                elif not podutil.is_terminating(d):
                    self._set_owner(rs, d, adopt=False)
                continue
            if matches and not podutil.is_terminating(d) and not podutil.is_terminating(rs):
                adopted = self._set_owner(rs, d, adopt=True)
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    def _set_owner(self, rs: Obj, d: Obj, adopt: bool) -> Obj | None:
        namespace, name = key_of(rs)
        live = self.api.find(self.rs_type, namespace, name)
        if live is None or live["metadata"].get("uid") != rs["metadata"].get("uid"):
            return None
        updated = copy.deepcopy(live)
        uid = d["metadata"]["uid"]
        refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if adopt:
            refs.append(podutil.controller_ref(d))
        updated["metadata"]["ownerReferences"] = refs
        stored, _ = self.api.update(self.rs_type, namespace, name, updated, self._opts)
        return stored

    def _pod_map(self, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """Pods of each claimed set by the set's uid, finished and terminating ones included."""
        return {rs["metadata"]["uid"]: self.pods.owned_by(rs["metadata"]["uid"]) for rs in rs_list}


def working_copy(d: Obj) -> Obj:
    """A copy of a cached Deployment whose status and annotations a pass may change (its spec is read-only)."""
    meta = d["metadata"]
    return {
        **d,
        "metadata": {**meta, "annotations": dict(meta.get("annotations") or {})},
        "status": copy.deepcopy(d.get("status") or {}),
    }


def _labels(obj: Obj) -> Obj:
    return obj["metadata"].get("labels") or {}
