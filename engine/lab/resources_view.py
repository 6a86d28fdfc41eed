"""Pure renderers for the lab panel: cluster objects, Git commits and pipeline runs as rows with a meaning.

Nothing here reads the cluster, Git or the pipeline store: callers hand in what they fetched (Kubernetes objects
as JSON, commits, runs) and the time to measure ages against, so the same input always gives the same rows.
Each row carries a `Meaning` (k9s-style: ok, pending, error, completed, killed, neutral) that the TUI's theme
turns into a colour; the STATUS texts follow what `kubectl get` prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..cluster.embedded.tables import human_duration as kube_duration

if TYPE_CHECKING:
    from ..gitops.status import AgentObject

JSON = dict[str, Any]

HIDDEN_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
STANDALONE = "(no workload)"
_POD_ERRORS = frozenset(
    {
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "RunContainerError",
        "Error",
        "OOMKilled",
        "ContainerCannotRun",
        "DeadlineExceeded",
        "Evicted",
        "Failed",
        "Unknown",
    }
)


class Meaning(StrEnum):
    """What a status means to the learner; the theme gives each meaning its colour."""

    OK = "ok"
    PENDING = "pending"
    ERROR = "error"
    COMPLETED = "completed"
    KILLED = "killed"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class ResourceRow:
    """One line of the resources tree: a namespace (level 0), a workload (1) or a pod (2)."""

    level: int
    kind: str
    namespace: str
    name: str
    status: str
    meaning: Meaning
    ready: str = ""
    restarts: str = ""
    age: str = ""

    @property
    def key(self) -> str:
        """Stable across refreshes, so a view can keep its cursor on the same object."""
        return f"{self.kind}/{self.namespace}/{self.name}"


# ----------------------------------------------------------------------------------------------------
# Ages


def human_duration(seconds: float) -> str:
    """A duration as kubectl's AGE column writes it (45s, 3m20s, 5h30m, 3d4h, 2y10d): the API server's tables'
    rendering, so the TUI and `kubectl get` always agree."""
    return kube_duration(timedelta(seconds=seconds))


def age(timestamp: Any, now: float) -> str:
    """The age of an RFC 3339 timestamp (as in metadata.creationTimestamp); `<unknown>` when unreadable."""
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration(now - moment.timestamp())


def ago(moment: float | None, now: float) -> str:
    """When something happened, for a person: `just now`, `5 minutes ago`, `3 days ago`; `never` for None."""
    if moment is None:
        return "never"
    seconds = now - moment
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


# ----------------------------------------------------------------------------------------------------
# Small readers that never raise on odd objects


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[JSON]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _meta(obj: JSON) -> JSON:
    return _dict(obj.get("metadata"))


def _name(obj: JSON) -> str:
    return str(_meta(obj).get("name") or "")


def _namespace(obj: JSON) -> str:
    return str(_meta(obj).get("namespace") or "")


def _controller(obj: JSON) -> tuple[str, str] | None:
    """(kind, name) of the object's controlling owner, if it has one."""
    for owner in _list(_meta(obj).get("ownerReferences")):
        if owner.get("controller"):
            return str(owner.get("kind") or ""), str(owner.get("name") or "")
    return None


# ----------------------------------------------------------------------------------------------------
# Pods


def pod_ready(pod: JSON) -> str:
    """READY as kubectl prints it: ready containers / containers."""
    containers = _list(_dict(pod.get("spec")).get("containers"))
    statuses = _list(_dict(pod.get("status")).get("containerStatuses"))
    return f"{sum(1 for status in statuses if status.get('ready') is True)}/{len(containers)}"


def pod_restarts(pod: JSON) -> int:
    statuses = _list(_dict(pod.get("status")).get("containerStatuses"))
    return sum(_int(status.get("restartCount")) for status in statuses)


def pod_status(pod: JSON) -> tuple[str, Meaning]:
    """STATUS as `kubectl get pods` prints it (init containers, waiting and terminated reasons, Terminating),
    with what it means."""
    status = _dict(pod.get("status"))
    phase = str(status.get("phase") or "Pending")
    reason = str(status.get("reason") or phase)
    init = _init_status(pod, status)
    reason = init if init is not None else _container_reason(status, reason)
    if _meta(pod).get("deletionTimestamp"):
        return ("Unknown" if reason == "NodeLost" else "Terminating"), Meaning.KILLED
    return reason, _pod_meaning(reason, pod)


def _init_status(pod: JSON, status: JSON) -> str | None:
    """`Init:1/2`, `Init:CrashLoopBackOff`, `Init:Error` while init containers have not all succeeded."""
    init_containers = _list(_dict(pod.get("spec")).get("initContainers"))
    for index, container in enumerate(_list(status.get("initContainerStatuses"))):
        state = _dict(container.get("state"))
        terminated = _dict(state.get("terminated"))
        if terminated and _int(terminated.get("exitCode")) == 0:
            continue
        if terminated:
            why = terminated.get("reason") or (f"Signal:{terminated['signal']}" if terminated.get("signal") else "")
            return f"Init:{why or 'ExitCode:' + str(_int(terminated.get('exitCode')))}"
        waiting = _dict(state.get("waiting"))
        if waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(init_containers)}"
    return None


def _container_reason(status: JSON, reason: str) -> str:
    """The last container (as kubectl reads them) that is waiting or terminated names the pod's state."""
    running = False
    for container in reversed(_list(status.get("containerStatuses"))):
        state = _dict(container.get("state"))
        waiting, terminated = _dict(state.get("waiting")), _dict(state.get("terminated"))
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated.get("reason"):
            reason = str(terminated["reason"])
        elif terminated:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
        elif container.get("ready") is True and state.get("running") is not None:
            running = True
    if reason == "Completed" and running:
        conditions = _list(status.get("conditions"))
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return "Running" if ready else "NotReady"
    return reason


def _pod_meaning(reason: str, pod: JSON) -> Meaning:
    if reason in ("Succeeded", "Completed"):
        return Meaning.COMPLETED
    if reason in _POD_ERRORS or reason.startswith(("Init:Error", "Init:Crash", "Init:ErrImage", "Init:ImagePull")):
        return Meaning.ERROR
    if reason.startswith(("ExitCode:", "Signal:")):
        return Meaning.ERROR
    if reason == "Running":
        ready, total = pod_ready(pod).split("/")
        return Meaning.OK if ready == total else Meaning.PENDING
    return Meaning.PENDING


# ----------------------------------------------------------------------------------------------------
# Workloads


def workload_status(obj: JSON) -> tuple[str, str, Meaning]:
    """(READY, STATUS, meaning) of a Deployment, StatefulSet, DaemonSet or Job."""
    kind = str(obj.get("kind") or "")
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    if kind == "Job":
        return _job_status(spec, status)
    if kind == "DaemonSet":
        wanted, ready = _int(status.get("desiredNumberScheduled")), _int(status.get("numberReady"))
        updated = _int(status.get("updatedNumberScheduled"))
    else:
        wanted, ready = _int(spec.get("replicas"), 1), _int(status.get("readyReplicas"))
        updated = _int(status.get("updatedReplicas"))
    ready_text = f"{ready}/{wanted}"
    stalled = _failed_condition(status)
    if stalled:
        return ready_text, stalled, Meaning.ERROR
    if wanted == 0:
        return ready_text, "ScaledDown", Meaning.NEUTRAL
    if ready >= wanted and updated >= wanted:
        return ready_text, "Available", Meaning.OK
    return ready_text, "Progressing", Meaning.PENDING


def _failed_condition(status: JSON) -> str:
    """A condition that says the workload is stuck: a progress deadline exceeded, or replicas failing."""
    for condition in _list(status.get("conditions")):
        kind, value, reason = condition.get("type"), condition.get("status"), str(condition.get("reason") or "")
        if kind == "Progressing" and value == "False":
            return reason or "ProgressDeadlineExceeded"
        if kind == "ReplicaFailure" and value == "True":
            return reason or "ReplicaFailure"
    return ""


def _job_status(spec: JSON, status: JSON) -> tuple[str, str, Meaning]:
    completions = _int(spec.get("completions"), 1)
    succeeded = _int(status.get("succeeded"))
    ready = f"{succeeded}/{completions}"
    for condition in _list(status.get("conditions")):
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return ready, "Complete", Meaning.COMPLETED
        if condition.get("type") == "Failed":
            return ready, str(condition.get("reason") or "Failed"), Meaning.ERROR
    if _int(status.get("failed")):
        return ready, "Retrying", Meaning.PENDING
    return ready, "Running", Meaning.PENDING


# ----------------------------------------------------------------------------------------------------
# The tree


def resource_tree(
    namespaces: Iterable[JSON],
    workloads: Iterable[JSON],
    replica_sets: Iterable[JSON],
    pods: Iterable[JSON],
    now: float,
    hidden: frozenset[str] = HIDDEN_NAMESPACES,
) -> list[ResourceRow]:
    """Namespaces, each followed by its workloads and each workload by its pods (pods no workload owns come
    last, under `(no workload)`). System namespaces are left out; `default` only appears when it holds
    something. Workloads of kinds other than WORKLOAD_KINDS are ignored."""
    owners = _replica_set_owners(replica_sets)
    by_namespace: dict[str, list[JSON]] = {}
    for workload in workloads:
        if workload.get("kind") in WORKLOAD_KINDS and isinstance(workload.get("metadata"), dict):
            by_namespace.setdefault(_namespace(workload), []).append(workload)
    pods_by_owner: dict[tuple[str, str, str], list[JSON]] = {}
    for pod in pods:
        if isinstance(pod.get("metadata"), dict):
            pods_by_owner.setdefault(_pod_owner(pod, owners), []).append(pod)
    rows: list[ResourceRow] = []
    for namespace in sorted((ns for ns in namespaces if _name(ns)), key=_name):
        name = _name(namespace)
        held = by_namespace.get(name, [])
        loose = pods_by_owner.get((name, "", ""), [])
        if name in hidden or (name == "default" and not held and not loose):
            continue
        rows.append(_namespace_row(namespace, now))
        for workload in sorted(held, key=lambda w: (WORKLOAD_KINDS.index(str(w["kind"])), _name(w))):
            rows.append(_workload_row(workload, now))
            key = (name, str(workload["kind"]), _name(workload))
            rows += [_pod_row(pod, now) for pod in sorted(pods_by_owner.get(key, []), key=_name)]
        if loose:
            rows.append(ResourceRow(1, "Group", name, STANDALONE, "", Meaning.NEUTRAL))
            rows += [_pod_row(pod, now) for pod in sorted(loose, key=_name)]
    return rows


def _replica_set_owners(replica_sets: Iterable[JSON]) -> Mapping[tuple[str, str], str]:
    """(namespace, ReplicaSet name) → the Deployment that controls it."""
    found = {}
    for replica_set in replica_sets:
        owner = _controller(replica_set)
        if owner is not None and owner[0] == "Deployment":
            found[(_namespace(replica_set), _name(replica_set))] = owner[1]
    return found


def _pod_owner(pod: JSON, replica_set_owners: Mapping[tuple[str, str], str]) -> tuple[str, str, str]:
    """(namespace, workload kind, workload name) the pod belongs to; kind and name empty when none."""
    namespace = _namespace(pod)
    owner = _controller(pod)
    if owner is None:
        return namespace, "", ""
    kind, name = owner
    if kind == "ReplicaSet" and (namespace, name) in replica_set_owners:
        return namespace, "Deployment", replica_set_owners[(namespace, name)]
    if kind in WORKLOAD_KINDS:
        return namespace, kind, name
    return namespace, "", ""


def _namespace_row(namespace: JSON, now: float) -> ResourceRow:
    phase = str(_dict(namespace.get("status")).get("phase") or "Active")
    meaning = Meaning.KILLED if phase == "Terminating" else Meaning.NEUTRAL
    created = _meta(namespace).get("creationTimestamp")
    return ResourceRow(0, "Namespace", _name(namespace), _name(namespace), phase, meaning, age=age(created, now))


def _workload_row(workload: JSON, now: float) -> ResourceRow:
    ready, status, meaning = workload_status(workload)
    created = _meta(workload).get("creationTimestamp")
    kind = str(workload["kind"])
    return ResourceRow(1, kind, _namespace(workload), _name(workload), status, meaning, ready, "", age(created, now))


def _pod_row(pod: JSON, now: float) -> ResourceRow:
    status, meaning = pod_status(pod)
    created = _meta(pod).get("creationTimestamp")
    restarts = str(pod_restarts(pod))
    return ResourceRow(
        2, "Pod", _namespace(pod), _name(pod), status, meaning, pod_ready(pod), restarts, age(created, now)
    )


# ----------------------------------------------------------------------------------------------------
# Git and pipelines


@dataclass(frozen=True)
class CommitRow:
    """One commit of a repo's history, newest first in a list."""

    sha: str
    summary: str
    author: str
    when: float

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class RepoHistory:
    """The recent commits of one of the lab's repos, or why they cannot be read."""

    repo: str
    branch: str
    commits: tuple[CommitRow, ...] = ()
    problem: str = ""


RUN_MEANINGS: Mapping[str, Meaning] = {
    "queued": Meaning.PENDING,
    "running": Meaning.PENDING,
    "succeeded": Meaning.OK,
    "failed": Meaning.ERROR,
    "cancelled": Meaning.KILLED,
    "interrupted": Meaning.KILLED,
}


def run_meaning(status: str) -> Meaning:
    """What a pipeline run's (or step's) status means: `timed_out` is an error, `skipped` neutral."""
    if status == "timed_out":
        return Meaning.ERROR
    return RUN_MEANINGS.get(status, Meaning.NEUTRAL)


def run_duration(started: float | None, ended: float | None, now: float) -> str:
    """How long a run took, or has been running; `-` before it starts."""
    if started is None:
        return "-"
    return human_duration((ended if ended is not None else now) - started)


def count_by_meaning(rows: Sequence[ResourceRow]) -> Mapping[Meaning, int]:
    """How many pods have each meaning: the resources tab's one-line summary."""
    counts: dict[Meaning, int] = {}
    for row in rows:
        if row.kind == "Pod":
            counts[row.meaning] = counts.get(row.meaning, 0) + 1
    return counts


# ----------------------------------------------------------------------------------------------------
# GitOps agents: sources and syncs

SHORT_AGENT_KINDS: Mapping[str, str] = {"GitRepository": "gitrepo", "Kustomization": "ks", "Application": "app"}
SOURCE_KINDS = frozenset({"GitRepository"})
_FLUX_WORKING = frozenset({"Progressing", "ProgressingWithRetry", "DependencyNotReady"})
_ARGO_BROKEN_HEALTH = frozenset({"Degraded", "Missing"})


@dataclass(frozen=True)
class AgentRow:
    """One source (GitRepository) or sync (Kustomization, Application) as the GitOps tab shows it.

    `ready` is the agent's own word (`True`, `False`, `Unknown`; Argo CD's `Synced/Healthy`), `revision` is
    shortened as `flux get` shortens it, and `meaning` colours the row."""

    kind: str
    namespace: str
    name: str
    revision: str
    ready: str
    meaning: Meaning
    message: str = ""
    suspended: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def short_kind(self) -> str:
        return SHORT_AGENT_KINDS.get(self.kind, self.kind.lower())

    @property
    def source(self) -> bool:
        return self.kind in SOURCE_KINDS


def agent_rows(objects: Iterable[JSON]) -> list[AgentRow]:
    """GitRepositories, then Kustomizations, then Applications, each by namespace and name; objects of other
    kinds are ignored."""
    from ..gitops.status import API_VERSIONS, describe

    order = list(API_VERSIONS)
    rows = []
    for obj in objects:
        if obj.get("kind") not in API_VERSIONS or not isinstance(obj.get("metadata"), dict):
            continue
        try:
            rows.append(_agent_row(obj, describe(obj)))
        except (AttributeError, TypeError, ValueError):
            kind = str(obj["kind"])
            rows.append(AgentRow(kind, _namespace(obj), _name(obj), "-", "Unknown", Meaning.ERROR, "unreadable status"))
    return sorted(rows, key=lambda row: (order.index(row.kind), row.namespace, row.name))


def _agent_row(obj: JSON, described: AgentObject) -> AgentRow:
    message = " ".join(str(described.message).split())
    ready = str(described.state) + (", suspended" if described.suspended else "")
    meaning = Meaning.KILLED if described.suspended else agent_meaning(obj)
    return AgentRow(
        described.kind,
        described.namespace,
        described.name,
        described.short_revision or "-",
        ready,
        meaning,
        message,
        described.suspended,
    )


def agent_meaning(obj: JSON) -> Meaning:
    """What a source's or sync's state means: ready is ok; reconciling, waiting for a dependency or not
    reconciled since a change is pending; a failure (or Argo CD's Degraded, Missing, a failed sync) an error."""
    status = _dict(obj.get("status"))
    if obj.get("kind") == "Application":
        return _application_meaning(status)
    ready = next((c for c in _list(status.get("conditions")) if c.get("type") == "Ready"), None)
    if ready is None:
        return Meaning.PENDING
    generation = _meta(obj).get("generation")
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    if generation is not None and observed is not None and observed != generation:
        return Meaning.PENDING
    if ready.get("status") == "True":
        return Meaning.OK
    if ready.get("status") != "False" or ready.get("reason") in _FLUX_WORKING:
        return Meaning.PENDING
    return Meaning.ERROR


def _application_meaning(status: JSON) -> Meaning:
    sync = str(_dict(status.get("sync")).get("status") or "Unknown")
    health = str(_dict(status.get("health")).get("status") or "Unknown")
    phase = str(_dict(status.get("operationState")).get("phase") or "")
    failing = any(str(c.get("type") or "").endswith("Error") for c in _list(status.get("conditions")))
    if health in _ARGO_BROKEN_HEALTH or phase in ("Failed", "Error") or failing:
        return Meaning.ERROR
    if health == "Suspended":
        return Meaning.KILLED
    if sync == "Synced" and health == "Healthy":
        return Meaning.OK
    return Meaning.PENDING
