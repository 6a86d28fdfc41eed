"""One container of a pod, from image pull to exit and restart, as the kubelet runs it.

`ContainerRuntime.advance` moves the container through its stages as far as time allows and says when it
needs to look again: image (pull, or already present) → config (env; CreateContainerConfigError blocks until
a ConfigMap or Secret changes) → created → started (a RunPlan decides its logs, probes and exit) → exited →
restarted after the CrashLoopBackOff delay, or done. Every step emits the kubelet's event, and `status`
renders the container's entry of the pod status.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .. import clock
from ..controllers.nodes import NODE_IP
from ..workloads import (
    NODE_ALLOCATABLE,
    ConfigProblem,
    ImageBehaviour,
    PullFailure,
    RunPlan,
    go_duration,
)
from . import backoff
from .context import SyncContext
from .environment import service_env
from .probes import Kind as ProbeKind
from .probes import Probe
from .runtime import Instance

Obj = dict[str, Any]
RUNTIME_PREFIX = "containerd://"
EXIT_SIGTERM = 143
EXIT_SIGKILL = 137
_STEPS_PER_SYNC = 64


class Stage(StrEnum):
    IMAGE = "image"  # decide whether the image must be pulled
    PULLING = "pulling"
    PULL_FAILED = "pull-failed"  # ErrImagePull, then ImagePullBackOff until the retry
    CONFIG = "config"  # make the container's configuration (env, security context)
    BLOCKED = "blocked"  # CreateContainerConfigError until a ConfigMap or Secret changes
    CREATING = "creating"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"  # killed; gone at `due`
    EXITED = "exited"  # terminated; restarts at `restart_at` if the restart policy says so
    DONE = "done"  # terminated for good


PIPELINE = (Stage.IMAGE, Stage.PULLING, Stage.PULL_FAILED, Stage.CONFIG, Stage.BLOCKED, Stage.CREATING, Stage.STARTING)


class ContainerRuntime:
    def __init__(self, spec: Obj, *, init: bool = False, waiting: str = "ContainerCreating") -> None:
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.init = init
        self.sidecar = init and spec.get("restartPolicy") == "Always"
        kind = "initContainers" if init else "containers"
        self.field_path = f"spec.{kind}{{{self.name}}}"
        self.stage = Stage.IMAGE
        self.due: datetime | None = None
        self.waiting = (waiting, "")
        self.image: ImageBehaviour | PullFailure | None = None
        self.pulled: ImageBehaviour | None = None
        self.pull_failures = 0
        self.pull_started: datetime | None = None
        self.backoff_shown = False
        self.instance: Instance | None = None
        self.container_id = ""
        self.finished: Obj | None = None  # the last run that ended (state, or lastState while restarting)
        self.previous: Obj | None = None  # the run before it (lastState while `finished` is the state)
        self.restart_count = 0
        self.backoff_level = 0
        self.restart_at: datetime | None = None
        self.force_restart = False
        self.exit_code_on_stop = EXIT_SIGTERM
        self.probes: dict[str, Probe] = {}
        self.ready = False
        self.started = False
        self.ran_for = 0.0
        self.finished_at: datetime | None = None
        self._retried_in: SyncContext | None = None

    # -- the stage machine ---------------------------------------------------------------------------------

    def advance(self, ctx: SyncContext) -> datetime | None:
        """Take every step that is due; returns when something is due next (None: wait for an event)."""
        self._follow_spec(ctx)
        for _ in range(_STEPS_PER_SYNC):
            before = (self.stage, self.due)
            wake = _STEPS[self.stage](self, ctx)
            if (self.stage, self.due) == before:
                return wake
        return ctx.now

    def _follow_spec(self, ctx: SyncContext) -> None:
        """A changed image (the only mutable part of a container) restarts the container with the new one."""
        for candidate in (ctx.pod.get("spec") or {}).get("initContainers" if self.init else "containers") or []:
            if isinstance(candidate, dict) and candidate.get("name") == self.name:
                changed = candidate.get("image") != self.spec.get("image")
                self.spec = candidate
                if changed and self.stage is Stage.RUNNING:
                    message = f"Container {self.name} definition changed, will be restarted"
                    self._kill(ctx, message)
                    self.force_restart = True
                elif changed and self.stage in PIPELINE:
                    self.stage = Stage.IMAGE
                return

    def _image_step(self, ctx: SyncContext) -> datetime | None:
        requested = str(self.spec.get("image") or "")
        self.image = image = ctx.catalogue.resolve(requested)
        policy = self.spec.get("imagePullPolicy") or "IfNotPresent"
        if isinstance(image, PullFailure) and not image.retryable:
            ctx.event("Warning", image.event_reason, image.event_message, self.field_path)
            return self._fail_image(ctx, image.reason, image.message, retry=False)
        present = isinstance(image, ImageBehaviour) and ctx.node.images.has(image.image)
        if policy == "Never" and not present:
            message = f'Container image "{requested}" is not present with pull policy of Never'
            ctx.event("Warning", "ErrImageNeverPull", message, self.field_path)
            return self._fail_image(ctx, "ErrImageNeverPull", message, retry=False)
        if present and policy != "Always":
            assert isinstance(image, ImageBehaviour)
            ctx.event("Normal", "Pulled", image.present_message, self.field_path)
            self.pulled = image
            self.stage = Stage.CONFIG
            return ctx.now
        ctx.event("Normal", "Pulling", image.pulling_message, self.field_path)
        self.stage, self.pull_started = Stage.PULLING, ctx.now
        self.due = ctx.now + timedelta(seconds=ctx.timings.pull)
        return self.due

    def _pulling_step(self, ctx: SyncContext) -> datetime | None:
        if self.due and ctx.now < self.due:
            return self.due
        image = self.image
        if isinstance(image, PullFailure):
            ctx.event("Warning", image.event_reason, image.event_message, self.field_path)
            return self._fail_image(ctx, image.reason, image.message, retry=True)
        assert isinstance(image, ImageBehaviour)
        ctx.node.images.add(image)
        seconds = ((self.due or ctx.now) - (self.pull_started or ctx.now)).total_seconds()
        ctx.event("Normal", "Pulled", image.pulled_message(seconds), self.field_path)
        self.pulled, self.pull_failures, self.due = image, 0, None
        self._clear_error()
        self.stage = Stage.CONFIG
        return ctx.now

    def _fail_image(self, ctx: SyncContext, reason: str, message: str, retry: bool) -> datetime | None:
        ctx.event("Warning", "Failed", f"Error: {reason}", self.field_path)
        self.waiting = (reason, message)
        self.stage = Stage.PULL_FAILED
        self.backoff_shown = False
        if not retry:
            self.due = None
            return None
        self.pull_failures += 1
        self.due = ctx.now + timedelta(seconds=backoff.pull_delay(self.pull_failures, ctx.timings))
        return self._pull_backoff_step(ctx)

    def _pull_backoff_step(self, ctx: SyncContext) -> datetime | None:
        if self.due is None:
            return None
        wait = self.due - ctx.now
        # The pod worker's next sync, half-way through the back-off, reports ImagePullBackOff.
        show_at = self.due - (timedelta(seconds=backoff.pull_delay(self.pull_failures, ctx.timings)) / 2)
        if not self.backoff_shown and ctx.now >= show_at and isinstance(self.image, PullFailure):
            ctx.event("Normal", "BackOff", self.image.backoff_event_message, self.field_path)
            ctx.event("Warning", "Failed", "Error: ImagePullBackOff", self.field_path)
            self.waiting = ("ImagePullBackOff", self.image.backoff_message)
            self.backoff_shown = True
        if wait.total_seconds() > 0:
            return show_at if not self.backoff_shown else self.due
        self.stage, self.due = Stage.IMAGE, None
        return ctx.now

    def _config_step(self, ctx: SyncContext) -> datetime | None:
        problem = self._config_problem(ctx)
        if problem is not None:
            ctx.event("Warning", "Failed", problem.event_message, self.field_path)
            self.waiting = (problem.waiting_reason, problem.message)
            self.stage = Stage.BLOCKED
            return None
        self._clear_error()
        self.stage = Stage.CREATING
        self.due = ctx.now + timedelta(seconds=ctx.timings.create)
        return self.due

    def _clear_error(self) -> None:
        """A start that gets past a failed step shows ContainerCreating again."""
        if self.waiting[0] in ("ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError"):
            self.waiting = ("ContainerCreating", "")

    def _config_problem(self, ctx: SyncContext) -> ConfigProblem | None:
        """Env and security problems; volumes were mounted with the pod, so the pod's volumes are left out."""
        assert self.pulled is not None
        spec = dict(ctx.pod.get("spec") or {})
        spec["volumes"] = []
        return self.pulled.start_check(self.spec, {**ctx.pod, "spec": spec}, ctx.lookup)

    def _blocked_step(self, ctx: SyncContext) -> datetime | None:
        if not ctx.config_changed or self._retried_in is ctx:
            return None
        # One retry per change, through the whole start again, image check included, as the kubelet's does.
        self._retried_in = ctx
        self.stage = Stage.IMAGE
        return ctx.now

    def _creating_step(self, ctx: SyncContext) -> datetime | None:
        if self.due and ctx.now < self.due:
            return self.due
        ctx.event("Normal", "Created", f"Created container: {self.name}", self.field_path)
        self.stage = Stage.STARTING
        self.due = ctx.now + timedelta(seconds=ctx.timings.start)
        return self.due

    def _starting_step(self, ctx: SyncContext) -> datetime | None:
        if self.due and ctx.now < self.due:
            return self.due
        assert self.pulled is not None
        instance = self.new_instance(ctx, self.pulled, self.due or ctx.now)
        self.due = None
        exit_plan = instance.plan.exit
        if exit_plan is not None and exit_plan.reason == "StartError":
            ctx.event("Warning", "Failed", f"Error: {exit_plan.message}", self.field_path)
            self.container_id = instance.container_id
            ctx.node.logs.open(instance.pod_uid, self.name, instance.container_id, None, instance.started)
            self._end_run(ctx, exit_plan.code, "StartError", instance.started, exit_plan.message, never_ran=True)
            return ctx.now
        ctx.event("Normal", "Started", f"Started container {self.name}", self.field_path)
        self.begin_run(ctx, instance)
        return ctx.now

    def new_instance(self, ctx: SyncContext, image: ImageBehaviour, started: datetime) -> Instance:
        pod = ctx.pod
        env = image.environment(
            self.spec,
            pod,
            ctx.lookup,
            pod_ip=ctx.pod_ip,
            host_ip=NODE_IP,
            service_env=service_env(ctx.api, pod),
            allocatable=NODE_ALLOCATABLE,
        )
        files = image.files(self.spec, pod, ctx.lookup, env=env)
        config = image.config_values(self.spec, pod, ctx.lookup)
        plan = image.run_plan(env, container=self.spec, pod=pod, files=files, config=config, pod_ip=ctx.pod_ip)
        meta = pod["metadata"]
        return Instance(
            container_id=RUNTIME_PREFIX + secrets.token_hex(32),
            pod_uid=str(meta.get("uid", "")),
            pod_name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "default")),
            container=self.name,
            behaviour=image,
            plan=plan,
            started=started,
            pod_ip=ctx.pod_ip,
            env=env,
            config=config,
            files=files,
            ports=[p for p in self.spec.get("ports") or [] if isinstance(p, dict)],
        )

    def begin_run(self, ctx: SyncContext, instance: Instance, ready: bool = False, started: bool = False) -> None:
        """The container is up: its log opens and its probes start."""
        self.instance, self.container_id = instance, instance.container_id
        ctx.node.logs.open(instance.pod_uid, self.name, instance.container_id, instance.plan, instance.started)
        ctx.node.started(instance)
        self.stage = Stage.RUNNING
        kinds: tuple[ProbeKind, ...] = ("startup", "readiness", "liveness") if not self.init or self.sidecar else ()
        self.probes = {kind: probe for kind in kinds if (probe := Probe.of(self.spec, kind)) is not None}
        self.started = started or "startup" not in self.probes
        self.ready = ready if "readiness" in self.probes else self.started
        if "readiness" in self.probes:
            self.probes["readiness"].verdict = ready
        if "startup" in self.probes:
            self.probes["startup"].verdict = self.started

    def _running_step(self, ctx: SyncContext) -> datetime | None:
        instance = self.instance
        assert instance is not None
        age = (ctx.now - instance.started).total_seconds()
        exit_plan = instance.plan.exit
        alive_until = exit_plan.after if exit_plan is not None else None
        probe_age = age if alive_until is None else min(age, alive_until - 1e-9)
        if self._probe(ctx, instance.plan, probe_age):
            return ctx.now
        if exit_plan is not None and age >= exit_plan.after:
            finished = instance.started + timedelta(seconds=exit_plan.after)
            self._end_run(ctx, exit_plan.code, exit_plan.reason, finished, exit_plan.message)
            return ctx.now
        wakes = [p.next_run(instance.plan, probe_age) for p in self._active_probes()]
        if alive_until is not None:
            wakes.append(alive_until)
        moments = [w for w in wakes if w is not None]
        return instance.started + timedelta(seconds=min(moments)) if moments else None

    def _active_probes(self) -> list[Probe]:
        if not self.started:
            return [self.probes["startup"]] if "startup" in self.probes else []
        return [probe for kind, probe in self.probes.items() if kind != "startup"]

    def _probe(self, ctx: SyncContext, plan: RunPlan, age: float) -> bool:
        """Run the due probes; True when one of them killed the container."""
        for probe in self._active_probes():
            if not probe.due(age):
                continue
            for result in probe.run(plan, age):
                if not result.success:
                    ctx.event("Warning", "Unhealthy", result.event_message(probe.kind), self.field_path)
                if result.tripped:
                    self._kill(ctx, f"Container {self.name} failed {probe.kind} probe, will be restarted")
                    return True
            if probe.kind == "startup" and probe.verdict:
                self.started = True
                return self._probe(ctx, plan, age)
            if probe.kind == "readiness":
                self.ready = probe.verdict
        if "readiness" not in self.probes:
            self.ready = self.started
        return False

    def _kill(self, ctx: SyncContext, message: str) -> None:
        ctx.event("Normal", "Killing", message, self.field_path)
        self._stop(ctx, min(ctx.timings.terminate, ctx.grace))

    def _stop(self, ctx: SyncContext, seconds: float) -> None:
        instance = self.instance
        assert instance is not None
        # An app that ignores SIGTERM is only stopped by the SIGKILL at the end of the grace period.
        self.exit_code_on_stop = EXIT_SIGTERM if instance.plan.stops_on_sigterm else EXIT_SIGKILL
        self.stage = Stage.STOPPING
        self.due = ctx.now + timedelta(seconds=seconds)
        self.ready = False

    def _stopping_step(self, ctx: SyncContext) -> datetime | None:
        instance = self.instance
        assert instance is not None and self.due is not None
        exit_plan = instance.plan.exit
        natural = instance.started + timedelta(seconds=exit_plan.after) if exit_plan is not None else None
        if natural is not None and natural <= min(ctx.now, self.due):
            assert exit_plan is not None
            self._end_run(ctx, exit_plan.code, exit_plan.reason, natural, exit_plan.message)
            return ctx.now
        if ctx.now < self.due:
            return self.due
        self._end_run(ctx, self.exit_code_on_stop, "Error", self.due)
        return ctx.now

    def _end_run(
        self, ctx: SyncContext, code: int, reason: str, at: datetime, message: str = "", never_ran: bool = False
    ) -> None:
        instance = self.instance
        started = "1970-01-01T00:00:00Z" if never_ran or instance is None else clock.stamp(instance.started)
        record: Obj = {"exitCode": code, "reason": reason}
        if message:
            record["message"] = message
        record.update({"startedAt": started, "finishedAt": clock.stamp(at), "containerID": self.container_id})
        self.previous, self.finished, self.finished_at = self.finished, record, at
        ctx.node.logs.close(self.container_id, at)
        if instance is not None:
            ctx.node.stopped(instance.pod_uid, self.name)
        self.ran_for = 0.0 if instance is None or never_ran else (at - instance.started).total_seconds()
        self.instance, self.ready, self.started, self.due = None, False, False, None
        self.waiting = ("", "")
        self.stage = Stage.EXITED

    def _exited_step(self, ctx: SyncContext) -> datetime | None:
        if not self._restarts(ctx):
            self.stage = Stage.DONE
            return None
        assert self.finished is not None
        if self.restart_at is None:
            if self.ran_for > backoff.forgiven_after(ctx.timings):
                self.backoff_level = 0
            wait = 0.0 if self.force_restart else backoff.delay(self.backoff_level, ctx.timings)
            finished = self.finished_at or _parse(self.finished.get("finishedAt")) or ctx.now
            self.restart_at = max(finished + timedelta(seconds=wait), ctx.now)
            if wait > 0:
                self._report_backoff(ctx, wait)
        if ctx.now < self.restart_at:
            return self.restart_at
        self.restart_count += 1
        self.backoff_level += 1
        self.restart_at, self.force_restart = None, False
        self.stage = Stage.IMAGE
        return ctx.now

    def _report_backoff(self, ctx: SyncContext, wait: float) -> None:
        what = f"container {self.name} in pod {ctx.pod_label}"
        ctx.event("Warning", "BackOff", f"Back-off restarting failed {what}", self.field_path)
        message = f"back-off {go_duration(wait)} restarting failed container={self.name} pod={ctx.pod_label}"
        self.waiting = ("CrashLoopBackOff", message)

    def _restarts(self, ctx: SyncContext) -> bool:
        """Whether the exited container starts again, by the restart policy of the pod (or the sidecar)."""
        if self.force_restart:
            return True
        code = int((self.finished or {}).get("exitCode") or 0)
        if self.sidecar:
            return True
        policy = ctx.restart_policy
        if self.init:
            return code != 0 and policy != "Never"
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    def _done_step(self, ctx: SyncContext) -> datetime | None:
        return None

    # -- pod termination -----------------------------------------------------------------------------------

    def begin_termination(self, ctx: SyncContext, seconds: float) -> None:
        """The pod is being deleted: a running container gets SIGTERM; nothing else starts."""
        if self.stage is Stage.RUNNING:
            ctx.event("Normal", "Killing", f"Stopping container {self.name}", self.field_path)
            self._stop(ctx, seconds)
        elif self.stage is Stage.STOPPING and self.due is not None:
            self.due = min(self.due, ctx.now + timedelta(seconds=seconds))

    def stop_now(self, ctx: SyncContext) -> None:
        """Stop a running container at once (the pod is done, or out of time), for good."""
        if self.stage is Stage.RUNNING:
            ctx.event("Normal", "Killing", f"Stopping container {self.name}", self.field_path)
            self._stop(ctx, 0)
        if self.stage is Stage.STOPPING:
            self.finish_termination(ctx, ctx.now)

    def finish_termination(self, ctx: SyncContext, at: datetime) -> None:
        if self.stage is Stage.STOPPING:
            self.due = min(self.due or at, at)
            self._stopping_step(ctx)
        if self.stage is Stage.EXITED:
            self.stage = Stage.DONE

    # -- status --------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.stage in (Stage.RUNNING, Stage.STOPPING)

    @property
    def succeeded(self) -> bool:
        return self.stage is Stage.DONE and self.finished is not None and self.finished.get("exitCode") == 0

    @property
    def completed(self) -> bool:
        """Terminated with exit code 0, as its state shows."""
        shown = self.stage is Stage.DONE or (self.stage is Stage.EXITED and self.waiting[0] != "CrashLoopBackOff")
        return shown and self.finished is not None and self.finished.get("exitCode") == 0

    def status(self) -> Obj:
        """The container's entry in the pod status, in the API's field order."""
        state, last = self._states()
        entry: Obj = {"name": self.name, "state": state, "lastState": last, "ready": self.ready}
        entry["restartCount"] = self.restart_count
        image = self.pulled if self.pulled is not None and (self.container_id or self.running) else None
        entry["image"] = image.image if image is not None else str(self.spec.get("image") or "")
        entry["imageID"] = image.image_id if image is not None else ""
        if self.container_id:
            entry["containerID"] = self.container_id
        entry["started"] = self.started
        resources = self.spec.get("resources")
        if isinstance(resources, dict) and (resources.get("requests") or resources.get("limits")):
            entry["resources"] = {k: v for k, v in resources.items() if k in ("requests", "limits")}
        mounts = _mounts(self.spec)
        if mounts:
            entry["volumeMounts"] = mounts
        return entry

    def _states(self) -> tuple[Obj, Obj]:
        if self.running and self.instance is not None:
            state: Obj = {"running": {"startedAt": clock.stamp(self.instance.started)}}
            return state, _last(self.finished)
        if self.stage is Stage.DONE and self.finished is not None:
            return {"terminated": dict(self.finished)}, _last(self.previous)
        if self.stage is Stage.EXITED and self.finished is not None:
            if self.waiting[0] == "CrashLoopBackOff" and self.restart_at is not None:
                return _waiting(self.waiting), _last(self.finished)
            return {"terminated": dict(self.finished)}, _last(self.previous)
        if not self.waiting[0] and self.finished is not None:
            # Restarting at once after an exit: the exit is what the status still shows.
            return {"terminated": dict(self.finished)}, _last(self.previous)
        return _waiting(self.waiting), _last(self.finished)


_STEPS = {
    Stage.IMAGE: ContainerRuntime._image_step,
    Stage.PULLING: ContainerRuntime._pulling_step,
    Stage.PULL_FAILED: ContainerRuntime._pull_backoff_step,
    Stage.CONFIG: ContainerRuntime._config_step,
    Stage.BLOCKED: ContainerRuntime._blocked_step,
    Stage.CREATING: ContainerRuntime._creating_step,
    Stage.STARTING: ContainerRuntime._starting_step,
    Stage.RUNNING: ContainerRuntime._running_step,
    Stage.STOPPING: ContainerRuntime._stopping_step,
    Stage.EXITED: ContainerRuntime._exited_step,
    Stage.DONE: ContainerRuntime._done_step,
}


def _waiting(waiting: tuple[str, str]) -> Obj:
    reason, message = waiting
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def _last(record: Obj | None) -> Obj:
    return {"terminated": dict(record)} if record else {}


def _mounts(spec: Obj) -> list[Obj]:
    mounts = []
    for mount in spec.get("volumeMounts") or []:
        if not isinstance(mount, dict) or not mount.get("name") or not mount.get("mountPath"):
            continue
        entry: Obj = {"name": mount["name"], "mountPath": mount["mountPath"]}
        if mount.get("readOnly") is True:
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Disabled"
        mounts.append(entry)
    return mounts


def _parse(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        return clock.parse(stamp)
    except ValueError:
        return None
