"""Jobs: pods run to completion, with parallelism, retries, deadlines, suspension and clean-up after finishing.

As on a real cluster, every Job pod carries the `batch.kubernetes.io/job-tracking` finalizer until the
controller has counted it as succeeded or failed, so counts survive pods being deleted and the daemon
restarting. A Job that reaches its completions first gets `SuccessCriteriaMet`, and `Complete` (with
`completionTime`) once no pod is left running or terminating; a failing Job gets `FailureTarget` and then
`Failed`. Indexed Jobs get their completion index (annotation, label, hostname, JOB_COMPLETION_INDEX).
Not covered: podFailurePolicy, successPolicy, backoffLimitPerIndex and managedBy.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller
from .statefulsets import int_field, owner_key, pod_from_template

Obj = dict[str, Any]
Key = tuple[str, str]

MANAGER = "kube-controller-manager"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
JOBS = "batch/jobs"
PODS = "/pods"
BACKOFF_CAP_FACTOR = 36  # the longest pod re-creation delay, in first delays (10 s → 6 min)
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETED_MESSAGE = "Reached expected number of succeeded pods"


def job_condition(job: Obj, kind: str) -> Obj | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def is_finished(job: Obj) -> bool:
    return job_condition(job, "Complete") is not None or job_condition(job, "Failed") is not None


def format_indexes(indexes: set[int]) -> str:
    """Completed indexes as the Job status writes them: `0-2,5`."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        parts.append(str(ordered[start]) if start == end else f"{ordered[start]}-{ordered[end]}")
        start = end + 1
    return ",".join(parts)


def parse_indexes(text: Any) -> set[int]:
    indexes: set[int] = set()
    for part in str(text or "").split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            indexes.update(range(int(low), int(high or low) + 1))
    return indexes


def pod_index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    return int(value) if isinstance(value, str) and value.isdigit() else None


@dataclass
class _Backoff:
    failures: int = 0
    last: datetime | None = None


@dataclass
class _State:
    """One reconcile's view of a Job: its pods sorted out and the status being built."""

    job: Obj
    status: Obj
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    now: datetime = field(default_factory=clock.now)

    @property
    def spec(self) -> Obj:
        return self.job.get("spec") or {}

    @property
    def indexed(self) -> bool:
        return self.spec.get("completionMode") == "Indexed"


class JobController(Controller):
    name = "job-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        jobs = api.catalog.lookup("batch", "v1", "jobs")
        pods = api.catalog.lookup("", "v1", "pods")
        assert jobs is not None and pods is not None
        self._jobs, self._pods = jobs, pods
        self._events = EventRecorder(api, "job-controller")
        self._opts = WriteOptions(field_manager=MANAGER)
        self._backoff: dict[Key, _Backoff] = {}
        # Pods deleted by this controller to suspend a Job or lower its parallelism: not failures.
        self._unwanted: set[str] = set()

    def start(self) -> None:
        """Every Job, and the Jobs named by pods still holding the tracking finalizer (their Job may have been
        deleted while the daemon was down: they must be released)."""
        for item in self.api.list(self._jobs, None).items:
            self.enqueue((item["metadata"]["namespace"], item["metadata"]["name"]))
        for pod in self.api.list(self._pods, None).items:
            key = owner_key(pod, "Job")
            if key and TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or []):
                self.enqueue(key)

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == JOBS:
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if resource == PODS:
            return list({key for key in (owner_key(obj, "Job"), owner_key(old, "Job")) if key})
        return []

    # Reconcile ------------------------------------------------------------------------------------------

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        namespace, name = key
        job = self.api.find(self._jobs, namespace, name)
        if job is None:
            self._backoff.pop(key, None)
            self._release_orphans(namespace, name)
            return
        pods = self._owned_pods(job)
        if job["metadata"].get("deletionTimestamp") or is_finished(job):
            for pod in pods:
                self._release(pod)
            self._backoff.pop(key, None)
            self._expire(job)
            return
        state = _State(job, copy.deepcopy(job.get("status") or {}))
        gone = self._count_finished(state, pods)
        self._sort_out(state, [pod for pod in pods if pod["metadata"]["name"] not in gone])
        if not self._check_failure(state) and not self._check_success(state):
            self._run(state)
        self._write_status(state)

    def _owned_pods(self, job: Obj) -> list[Obj]:
        return [
            pod
            for pod in self.api.list(self._pods, job["metadata"]["namespace"]).items
            if podutil.is_controlled_by(pod, job)
        ]

    def _release_orphans(self, namespace: str, name: str) -> None:
        """A deleted Job's pods lose the tracking finalizer so they can go."""
        for pod in self.api.list(self._pods, namespace).items:
            ref = podutil.controller_of(pod)
            if ref and ref.get("kind") == "Job" and ref.get("name") == name:
                self._release(pod)

    def _release(self, pod: Obj) -> bool:
        """Drop the tracking finalizer; True when that let a deleted pod go."""
        meta = pod["metadata"]
        finalizers = meta.get("finalizers") or []
        if TRACKING_FINALIZER not in finalizers:
            return False
        body = copy.deepcopy(pod)
        body["metadata"]["finalizers"] = [f for f in finalizers if f != TRACKING_FINALIZER]
        try:
            self.api.update(self._pods, meta["namespace"], meta["name"], body, self._opts)
        except ApiError as err:
            if err.code != 404:
                raise
            return True
        return self.api.find(self._pods, meta["namespace"], meta["name"]) is None

    # Counting pods ----------------------------------------------------------------------------------------

    def _count_finished(self, state: _State, pods: list[Obj]) -> set[str]:
        """Count pods that finished since the last pass (they still carry the finalizer) and release them;
        returns the names of those that are gone as a result."""
        status = state.status
        completed = parse_indexes(status.get("completedIndexes"))
        met = job_condition(state.job, "SuccessCriteriaMet") or job_condition(state.job, "FailureTarget")
        backoff = self._backoff.setdefault(self._key(state.job), _Backoff())
        gone: set[str] = set()
        for pod in pods:
            if TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                index = pod_index(pod)
                if not met and (not state.indexed or (index is not None and index not in completed)):
                    status["succeeded"] = int_field(status, "succeeded", 0) + 1
                    if index is not None:
                        completed.add(index)
                    backoff.failures = 0
            elif phase == "Failed" or podutil.is_terminating(pod):
                unwanted = pod["metadata"].get("uid") in self._unwanted and phase != "Failed"
                if not met and not unwanted:
                    status["failed"] = int_field(status, "failed", 0) + 1
                    backoff.failures += 1
                    backoff.last = state.now
            else:
                continue
            self._unwanted.discard(pod["metadata"].get("uid", ""))
            if self._release(pod):
                gone.add(pod["metadata"]["name"])
        if state.indexed:
            status["completedIndexes"] = format_indexes(completed)
        return gone

    def _sort_out(self, state: _State, pods: list[Obj]) -> None:
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                continue
            if podutil.is_terminating(pod):
                state.terminating += 1
            else:
                state.active.append(pod)

    # Finishing ------------------------------------------------------------------------------------------

    def _check_failure(self, state: _State) -> bool:
        """Backoff limit or deadline reached: FailureTarget now, Failed once no pod is left running."""
        reason = message = ""
        if job_condition(state.job, "FailureTarget"):
            target = job_condition(state.job, "FailureTarget") or {}
            reason, message = str(target.get("reason", "")), str(target.get("message", ""))
        elif self._past_backoff_limit(state):
            reason, message = "BackoffLimitExceeded", BACKOFF_MESSAGE
        elif self._past_deadline(state):
            reason, message = "DeadlineExceeded", DEADLINE_MESSAGE
        if not reason:
            return False
        if not job_condition(state.job, "FailureTarget"):
            self._set_condition(state, "FailureTarget", reason, message)
        self._delete_pods(state, state.active)
        if not state.active and not state.terminating:
            self._set_condition(state, "Failed", reason, message)
            self._events.record(state.job, "Warning", reason, message)
        return True

    def _past_backoff_limit(self, state: _State) -> bool:
        limit = int_field(state.spec, "backoffLimit", 6)
        if int_field(state.status, "failed", 0) > limit:
            return True
        template_spec = (state.spec.get("template") or {}).get("spec") or {}
        if template_spec.get("restartPolicy") != "OnFailure":
            return False
        restarts = sum(
            int_field(container, "restartCount", 0)
            for pod in state.active
            for container in (pod.get("status") or {}).get("initContainerStatuses", [])
            + (pod.get("status") or {}).get("containerStatuses", [])
        )
        return restarts > 0 if limit == 0 else restarts >= limit

    def _past_deadline(self, state: _State) -> bool:
        deadline = state.spec.get("activeDeadlineSeconds")
        start = state.status.get("startTime")
        if not isinstance(deadline, int) or not start or state.spec.get("suspend") is True:
            return False
        remaining = (clock.parse(start) + timedelta(seconds=deadline) - state.now).total_seconds()
        if remaining > 0:
            self.enqueue_after(self._key(state.job), remaining)
            return False
        return True

    def _check_success(self, state: _State) -> bool:
        completions = state.spec.get("completions")
        succeeded = int_field(state.status, "succeeded", 0)
        if state.indexed and isinstance(completions, int):
            done = len(parse_indexes(state.status.get("completedIndexes"))) >= completions
        elif isinstance(completions, int):
            done = succeeded >= completions
        else:
            done = succeeded > 0 and not state.active
        if not done and not job_condition(state.job, "SuccessCriteriaMet"):
            return False
        if not job_condition(state.job, "SuccessCriteriaMet"):
            self._set_condition(state, "SuccessCriteriaMet", "CompletionsReached", COMPLETED_MESSAGE)
        self._delete_pods(state, state.active)
        if not state.active and not state.terminating:
            self._set_condition(state, "Complete", "CompletionsReached", COMPLETED_MESSAGE)
            state.status["completionTime"] = clock.stamp(state.now)
            self._events.record(state.job, "Normal", "Completed", "Job completed")
        return True

    def _set_condition(self, state: _State, kind: str, reason: str, message: str) -> None:
        now = clock.stamp(state.now)
        conditions = [c for c in state.status.get("conditions") or [] if c.get("type") != kind]
        conditions.append(
            {
                "type": kind,
                "status": "True",
                "lastProbeTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )
        state.status["conditions"] = conditions

    # Running ----------------------------------------------------------------------------------------------

    def _run(self, state: _State) -> None:
        if state.spec.get("suspend") is True:
            self._suspend(state)
            return
        self._resume(state)
        wanted = self._wanted_active(state)
        if len(state.active) > wanted:
            surplus = sorted(
                state.active, key=lambda p: (podutil.is_ready(p), p["metadata"].get("creationTimestamp", ""))
            )
            surplus = surplus[: len(state.active) - wanted]
            self._unwanted.update(pod["metadata"].get("uid", "") for pod in surplus)
            self._delete_pods(state, surplus)
            return
        missing = wanted - len(state.active)
        if missing <= 0:
            return
        delay = self._backoff_delay(state)
        if delay > 0:
            self.enqueue_after(self._key(state.job), delay)
            return
        for index in self._indexes_to_start(state, missing):
            state.active.append(self._create(state.job, index))

    def _wanted_active(self, state: _State) -> int:
        parallelism = int_field(state.spec, "parallelism", 1)
        completions = state.spec.get("completions")
        if not isinstance(completions, int):
            # Without completions, one success ends the Job: what runs is left to finish, nothing new starts.
            return len(state.active) if int_field(state.status, "succeeded", 0) else parallelism
        if state.indexed:
            remaining = completions - len(parse_indexes(state.status.get("completedIndexes")))
        else:
            remaining = completions - int_field(state.status, "succeeded", 0)
        return max(0, min(parallelism, remaining))

    def _indexes_to_start(self, state: _State, count: int) -> list[int | None]:
        if not state.indexed:
            return [None] * count
        taken = parse_indexes(state.status.get("completedIndexes")) | {
            index for pod in state.active if (index := pod_index(pod)) is not None
        }
        completions = int_field(state.spec, "completions", 0)
        return [index for index in range(completions) if index not in taken][:count]

    def _backoff_delay(self, state: _State) -> float:
        record = self._backoff.get(self._key(state.job))
        if record is None or not record.failures or record.last is None:
            return 0.0
        base = self.settings.timings.backoff_base
        delay = min(base * 2 ** (record.failures - 1), base * BACKOFF_CAP_FACTOR)
        return max(0.0, delay - (state.now - record.last).total_seconds())

    def _suspend(self, state: _State) -> None:
        self._unwanted.update(pod["metadata"].get("uid", "") for pod in state.active)
        self._delete_pods(state, state.active)
        if not job_condition(state.job, "Suspended"):
            self._set_condition(state, "Suspended", "JobSuspended", "Job suspended")
            state.status.pop("startTime", None)
            self._events.record(state.job, "Normal", "Suspended", "Job suspended")

    def _resume(self, state: _State) -> None:
        if job_condition(state.job, "Suspended"):
            now = clock.stamp(state.now)
            for condition in state.status.get("conditions") or []:
                if condition.get("type") == "Suspended":
                    condition.update(
                        status="False",
                        reason="JobResumed",
                        message="Job resumed",
                        lastProbeTime=now,
                        lastTransitionTime=now,
                    )
            self._events.record(state.job, "Normal", "Resumed", "Job resumed")
            state.status["startTime"] = now
        state.status.setdefault("startTime", clock.stamp(state.now))
        self._past_deadline(state)

    def _create(self, job: Obj, index: int | None) -> Obj:
        pod = pod_from_template((job.get("spec") or {}).get("template") or {}, job)
        meta = pod["metadata"]
        name = job["metadata"]["name"]
        meta["generateName"] = f"{name}-" if index is None else f"{name}-{index}-"
        meta["finalizers"] = [*(meta.get("finalizers") or []), TRACKING_FINALIZER]
        if index is not None:
            meta.setdefault("annotations", {})[INDEX_KEY] = str(index)
            meta.setdefault("labels", {})[INDEX_KEY] = str(index)
            pod["spec"].setdefault("hostname", f"{name}-{index}")
            for container in (pod["spec"].get("initContainers") or []) + (pod["spec"].get("containers") or []):
                env = container.setdefault("env", [])
                if not any(e.get("name") == INDEX_ENV for e in env):
                    field_path = f"metadata.annotations['{INDEX_KEY}']"
                    env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": field_path}}})
        try:
            created, _ = self.api.create(self._pods, job["metadata"]["namespace"], pod, self._opts)
        except ApiError as err:
            self._events.record(job, "Warning", "FailedCreate", f"Error creating: {err.message}")
            raise
        self._events.record(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    def _delete_pods(self, state: _State, pods: list[Obj]) -> None:
        for pod in list(pods):
            name = pod["metadata"]["name"]
            try:
                self.api.delete(self._pods, pod["metadata"]["namespace"], name, None)
            except ApiError as err:
                if err.code != 404:
                    self._events.record(state.job, "Warning", "FailedDelete", f"Error deleting: {err.message}")
                    raise
            else:
                self._events.record(state.job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
            pods.remove(pod)
            remaining = self.api.find(self._pods, pod["metadata"]["namespace"], name)
            if remaining is not None and podutil.is_terminating(remaining):
                state.terminating += 1

    # Status and clean-up ---------------------------------------------------------------------------------

    def _write_status(self, state: _State) -> None:
        status = state.status
        status["active"] = len(state.active)
        status["ready"] = sum(podutil.is_ready(pod) for pod in state.active)
        status["terminating"] = state.terminating
        status.setdefault("uncountedTerminatedPods", {})
        for omitted_when_zero in ("active", "succeeded", "failed"):
            if not status.get(omitted_when_zero):
                status.pop(omitted_when_zero, None)
        if state.indexed and not status.get("completedIndexes"):
            status.pop("completedIndexes", None)
        if status != (state.job.get("status") or {}):
            body = copy.deepcopy(state.job)
            body["status"] = status
            meta = state.job["metadata"]
            updated, _ = self.api.update(self._jobs, meta["namespace"], meta["name"], body, self._opts, "status")
            if is_finished(updated):
                self._expire(updated)

    def _expire(self, job: Obj) -> None:
        """ttlSecondsAfterFinished: delete a finished Job (and, in the foreground, its pods) when it expires."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if not isinstance(ttl, int) or job["metadata"].get("deletionTimestamp") or not is_finished(job):
            return
        finished = (job.get("status") or {}).get("completionTime") or (job_condition(job, "Failed") or {}).get(
            "lastTransitionTime"
        )
        if not finished:
            return
        remaining = (clock.parse(finished) + timedelta(seconds=ttl) - clock.now()).total_seconds()
        if remaining > 0:
            self.enqueue_after(self._key(job), remaining)
            return
        meta = job["metadata"]
        try:
            self.api.delete(self._jobs, meta["namespace"], meta["name"], {"propagationPolicy": "Foreground"})
        except ApiError as err:
            if err.code != 404:
                raise

    @staticmethod
    def _key(job: Obj) -> Key:
        return job["metadata"]["namespace"], job["metadata"]["name"]
