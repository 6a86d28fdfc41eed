"""StatefulSets: pods with stable ordinal names, started in order and replaced from the highest ordinal down.

Follows the real controller: `OrderedReady` creates `<sts>-N` only once every lower ordinal is Running and
Ready and scales down from the highest ordinal one pod at a time; `Parallel` creates and deletes all at once.
A RollingUpdate replaces pods in reverse ordinal order, down to the partition, waiting for each replacement to
be healthy. ControllerRevisions are not served, so revisions live only in `status.currentRevision` and
`status.updateRevision` (and the pods' `controller-revision-hash` label); a pod replaced below a partition
therefore comes back at the update revision. PersistentVolumeClaims are not served either: the pods get the
claim volumes of `volumeClaimTemplates`, which the simulated kubelet treats as present.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller

Obj = dict[str, Any]
Key = tuple[str, str]

MANAGER = "kube-controller-manager"
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
STATEFULSETS = "apps/statefulsets"
PODS = "/pods"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------------------------------------------------
# Helpers shared with the DaemonSet and Job controllers
# ---------------------------------------------------------------------------------------------------------


def template_hash(template: Any, collision_count: int = 0) -> str:
    """A short hash of a pod template, written with the alphabet the real controllers use for revision hashes
    (FNV-1a over the template, its decimal digits mapped to `bcdf...789`)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(digit) % len(_SAFE_ALPHABET)] for digit in str(value))


def pod_from_template(template: Obj, owner: Obj) -> Obj:
    """A new pod as controllers make them: the template's labels, annotations and spec, owned by `owner`."""
    template = template if isinstance(template, dict) else {}
    template_meta = template.get("metadata") or {}
    metadata: Obj = {"namespace": owner["metadata"]["namespace"], "ownerReferences": [podutil.controller_ref(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if template_meta.get(field):
            metadata[field] = copy.deepcopy(template_meta[field])
    return {"metadata": metadata, "spec": copy.deepcopy(template.get("spec") or {})}


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and podutil.is_ready(pod)


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def owner_key(obj: Obj | None, kind: str) -> Key | None:
    """(namespace, name) of the object's controller of the given kind, if it has one."""
    if obj is None:
        return None
    ref = podutil.controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    return obj["metadata"].get("namespace", ""), str(ref.get("name", ""))


def available_in(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """Seconds until a ready pod counts as available (0: it is), None when it is not ready."""
    ready = podutil.condition(pod, "Ready")
    if not ready or ready.get("status") != "True":
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = ready.get("lastTransitionTime")
    if not since:
        return float(min_ready_seconds)
    return max(0.0, (clock.parse(since) + timedelta(seconds=min_ready_seconds) - now).total_seconds())


def int_field(obj: Obj, name: str, default: int) -> int:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# ---------------------------------------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------------------------------------


class StatefulSetController(Controller):
    name = "statefulset-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        sets = api.catalog.lookup("apps", "v1", "statefulsets")
        pods = api.catalog.lookup("", "v1", "pods")
        assert sets is not None and pods is not None
        self._sets, self._pods = sets, pods
        self._events = EventRecorder(api, "statefulset-controller")
        self._opts = WriteOptions(field_manager=MANAGER)

    def start(self) -> None:
        for item in self.api.list(self._sets, None).items:
            self.enqueue((item["metadata"]["namespace"], item["metadata"]["name"]))

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == STATEFULSETS:
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if resource == PODS:
            return list({key for key in (owner_key(obj, "StatefulSet"), owner_key(old, "StatefulSet")) if key})
        return []

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        namespace, name = key
        sts = self.api.find(self._sets, namespace, name)
        if sts is None:
            return
        pods = self._owned_pods(sts)
        spec = sts.get("spec") or {}
        collisions = int_field(sts.get("status") or {}, "collisionCount", 0)
        update_revision = f"{name}-{template_hash(spec.get('template'), collisions)}"
        current_revision = (sts.get("status") or {}).get("currentRevision") or update_revision
        if not sts["metadata"].get("deletionTimestamp"):
            self._manage(sts, pods, update_revision)
            pods = self._owned_pods(sts)
        self._update_status(sts, pods, current_revision, update_revision)

    def _owned_pods(self, sts: Obj) -> dict[int, Obj]:
        """Owned pods by ordinal (pods whose name is not `<sts>-<ordinal>` are ignored)."""
        pattern = re.compile(re.escape(sts["metadata"]["name"]) + r"-(0|[1-9][0-9]*)")
        pods: dict[int, Obj] = {}
        for pod in self.api.list(self._pods, sts["metadata"]["namespace"]).items:
            match = pattern.fullmatch(pod["metadata"]["name"])
            if match and podutil.is_controlled_by(pod, sts):
                pods[int(match.group(1))] = pod
        return pods

    # Creating, deleting and updating pods --------------------------------------------------------------

    def _manage(self, sts: Obj, pods: dict[int, Obj], revision: str) -> None:
        spec = sts.get("spec") or {}
        start = int_field(spec.get("ordinals") or {}, "start", 0)
        replicas = int_field(spec, "replicas", 1)
        wanted = range(start, start + replicas)
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        for ordinal in wanted:
            pod = pods.get(ordinal)
            if pod is not None and is_finished(pod) and not podutil.is_terminating(pod):
                self._events.record(
                    sts,
                    "Warning",
                    "RecreatingFailedPod",
                    f"StatefulSet {sts['metadata']['namespace']}/{sts['metadata']['name']} is recreating "
                    f"failed Pod {pod['metadata']['name']}",
                )
                self._delete(sts, pod)
                if ordered:
                    return
                continue
            if pod is None:
                self._create(sts, ordinal, revision)
                if ordered:
                    return
                continue
            if ordered and (podutil.is_terminating(pod) or not is_running_and_ready(pod)):
                return
        condemned = sorted((o for o in pods if o not in wanted), reverse=True)
        unhealthy = [o for o in wanted if o in pods and not self._healthy(sts, pods[o])]
        for ordinal in condemned:
            pod = pods[ordinal]
            if podutil.is_terminating(pod):
                if ordered:
                    return
                continue
            if ordered and unhealthy:
                return
            self._delete(sts, pod)
            if ordered:
                return
        self._roll(sts, {o: p for o, p in pods.items() if o in wanted}, revision, wanted)

    def _roll(self, sts: Obj, pods: dict[int, Obj], revision: str, wanted: range) -> None:
        spec = sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate" or len(pods) < len(wanted):
            return
        partition = int_field(strategy.get("rollingUpdate") or {}, "partition", 0)
        for ordinal in sorted(pods, reverse=True):
            if ordinal - wanted.start < partition:
                break
            pod = pods[ordinal]
            if pod["metadata"].get("labels", {}).get(REVISION_LABEL) != revision and not podutil.is_terminating(pod):
                self._delete(sts, pod)
                return
            if not self._healthy(sts, pod):
                return

    def _healthy(self, sts: Obj, pod: Obj) -> bool:
        min_ready = int_field(sts.get("spec") or {}, "minReadySeconds", 0)
        return (
            is_running_and_ready(pod)
            and not podutil.is_terminating(pod)
            and available_in(pod, min_ready, clock.now()) == 0
        )

    def _create(self, sts: Obj, ordinal: int, revision: str) -> None:
        spec = sts.get("spec") or {}
        pod = pod_from_template(spec.get("template") or {}, sts)
        name = f"{sts['metadata']['name']}-{ordinal}"
        pod["metadata"]["name"] = name
        labels = pod["metadata"].setdefault("labels", {})
        labels[REVISION_LABEL] = revision
        labels[POD_NAME_LABEL] = name
        labels[POD_INDEX_LABEL] = str(ordinal)
        pod["spec"]["hostname"] = name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        self._add_claim_volumes(pod, spec, name)
        try:
            self.api.create(self._pods, sts["metadata"]["namespace"], pod, self._opts)
        except ApiError as err:
            self._events.record(
                sts,
                "Warning",
                "FailedCreate",
                f"create Pod {name} in StatefulSet {sts['metadata']['name']} failed error: {err.message}",
            )
            raise
        self._events.record(
            sts, "Normal", "SuccessfulCreate", f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful"
        )

    @staticmethod
    def _add_claim_volumes(pod: Obj, spec: Obj, pod_name: str) -> None:
        volumes = pod["spec"].setdefault("volumes", [])
        names = {volume.get("name") for volume in volumes}
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = (claim.get("metadata") or {}).get("name")
            if claim_name and claim_name not in names:
                volumes.append({"name": claim_name, "persistentVolumeClaim": {"claimName": f"{claim_name}-{pod_name}"}})
        if not volumes:
            del pod["spec"]["volumes"]

    def _delete(self, sts: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            self.api.delete(self._pods, pod["metadata"]["namespace"], name, None)
        except ApiError as err:
            if err.code == 404:
                return
            self._events.record(
                sts,
                "Warning",
                "FailedDelete",
                f"delete Pod {name} in StatefulSet {sts['metadata']['name']} failed error: {err.message}",
            )
            raise
        self._events.record(
            sts, "Normal", "SuccessfulDelete", f"delete Pod {name} in StatefulSet {sts['metadata']['name']} successful"
        )

    # Status ---------------------------------------------------------------------------------------------

    def _update_status(self, sts: Obj, pods: dict[int, Obj], current_revision: str, update_revision: str) -> None:
        spec = sts.get("spec") or {}
        min_ready = int_field(spec, "minReadySeconds", 0)
        now = clock.now()
        counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}
        wake: list[float] = []
        for pod in pods.values():
            counts["replicas"] += 1
            if is_running_and_ready(pod):
                counts["readyReplicas"] += 1
                remaining = available_in(pod, min_ready, now)
                if remaining == 0:
                    counts["availableReplicas"] += 1
                elif remaining is not None:
                    wake.append(remaining)
            if not podutil.is_terminating(pod):
                revision = pod["metadata"].get("labels", {}).get(REVISION_LABEL)
                counts["currentReplicas"] += revision == current_revision
                counts["updatedReplicas"] += revision == update_revision
        strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
        if (
            strategy == "RollingUpdate"
            and counts["updatedReplicas"] == counts["replicas"]
            and counts["readyReplicas"] == counts["replicas"]
        ):
            current_revision = update_revision
            counts["currentReplicas"] = counts["updatedReplicas"]
        old = sts.get("status") or {}
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            **counts,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": int_field(old, "collisionCount", 0),
        }
        for omitted_when_zero in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[omitted_when_zero]:
                del status[omitted_when_zero]
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status != old:
            body = copy.deepcopy(sts)
            body["status"] = status
            meta = sts["metadata"]
            self.api.update(self._sets, meta["namespace"], meta["name"], body, self._opts, subresource="status")
        if wake:
            self.enqueue_after((sts["metadata"]["namespace"], sts["metadata"]["name"]), min(wake))
