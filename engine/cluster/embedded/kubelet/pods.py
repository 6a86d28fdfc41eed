"""One pod on the node: its sandbox (volumes mounted, an IP), its init containers in order, then its
containers, and its shutdown when it is deleted. `PodRuntime.status` is the status the kubelet reports."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..controllers.nodes import NODE_IP
from ..workloads import volume_problem
from . import conditions
from .containers import ContainerRuntime, Stage
from .context import SyncContext
from .network import NetworkExhausted

Obj = dict[str, Any]
# Status fields the kubelet owns; anything else in a pod's status is kept as it is.
_OWNED = (
    "observedGeneration",
    "phase",
    "conditions",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
)


class PodRuntime:
    def __init__(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        self.uid = str(meta.get("uid", ""))
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        init_specs = [c for c in spec.get("initContainers") or [] if isinstance(c, dict)]
        main_specs = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
        first_wait = "PodInitializing" if init_specs else "ContainerCreating"
        self.init = [ContainerRuntime(c, init=True, waiting="PodInitializing") for c in init_specs]
        self.main = [ContainerRuntime(c, waiting=first_wait) for c in main_specs]
        self.start_time: str | None = None
        self.ip: str | None = None
        self.sandbox = False
        self.mount_problem: str | None = None
        self.initialized = not init_specs
        self.final_phase: str | None = None
        self.final_reason: tuple[str, str] | None = None  # the pod's status reason and message, if any
        self.kill_at: datetime | None = None
        self.finished = False  # stopped after deletion: the pod object can go

    @property
    def waits_for_config(self) -> bool:
        """Whether a ConfigMap or Secret appearing could let the pod go on."""
        return self.mount_problem is not None or any(c.stage is Stage.BLOCKED for c in self.init + self.main)

    # -- syncing -------------------------------------------------------------------------------------------

    def sync(self, ctx: SyncContext) -> datetime | None:
        """Advance the pod as far as time allows; returns when it needs another look (None: on an event)."""
        if ctx.pod["metadata"].get("deletionTimestamp"):
            return self._terminate(ctx)
        if self.final_phase:
            return None
        if self.start_time is None:
            self.start_time = clock.stamp(ctx.now)
        if not self.sandbox and not self._create_sandbox(ctx):
            return None
        ctx.pod_ip = self.ip or ""
        deadline = self._deadline(ctx)
        if deadline is not None and ctx.now >= deadline:
            self._exceed_deadline(ctx)
            return None
        wakes = self._run_init_containers(ctx)
        if self.initialized:
            wakes.extend(c.advance(ctx) for c in self.main)
        phase = self.phase()
        if phase in conditions.TERMINAL:
            self.final_phase = phase
            for sidecar in self.init:
                sidecar.stop_now(ctx)
            return None
        moments = [w for w in [*wakes, deadline] if w is not None]
        return min(moments) if moments else None

    def _deadline(self, ctx: SyncContext) -> datetime | None:
        """When spec.activeDeadlineSeconds runs out, counted from the pod's start."""
        seconds = (ctx.pod.get("spec") or {}).get("activeDeadlineSeconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0 or not self.start_time:
            return None
        try:
            return clock.parse(self.start_time) + timedelta(seconds=seconds)
        except ValueError:
            return None

    def _exceed_deadline(self, ctx: SyncContext) -> None:
        message = "Pod was active on the node longer than the specified deadline"
        ctx.event("Normal", "DeadlineExceeded", message)
        for container in self.main + self.init:
            container.stop_now(ctx)
        self.final_phase = "Failed"
        self.final_reason = ("DeadlineExceeded", message)

    def _create_sandbox(self, ctx: SyncContext) -> bool:
        """Mount the pod's volumes and give it an IP; a volume that cannot be set up stops the pod here."""
        problem = volume_problem(ctx.pod, ctx.lookup)
        if problem is not None:
            if problem.message != self.mount_problem or ctx.config_changed:
                ctx.event("Warning", problem.event_reason, problem.event_message)
            self.mount_problem = problem.message
            return False
        self.mount_problem = None
        try:
            self.ip = ctx.node.network.allocate(self.uid)
        except NetworkExhausted as err:
            ctx.event("Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {err}")
            return False
        self.sandbox = True
        return True

    def _run_init_containers(self, ctx: SyncContext) -> list[datetime | None]:
        """Init containers one after the other, each to completion (a sidecar: until it has started)."""
        wakes: list[datetime | None] = []
        for container in self.init:
            if container.succeeded:
                continue
            wakes.append(container.advance(ctx))
            if container.succeeded or (container.sidecar and container.started):
                continue
            return wakes
        self.initialized = True
        return wakes

    def _terminate(self, ctx: SyncContext) -> datetime | None:
        """SIGTERM to every running container, then, after the grace period (capped by the lab's terminate
        time), they are gone and so can the pod be."""
        if self.kill_at is None:
            grace = ctx.pod["metadata"].get("deletionGracePeriodSeconds")
            grace = grace if isinstance(grace, int) and not isinstance(grace, bool) else ctx.grace
            seconds = max(min(ctx.timings.terminate, float(grace)), 0.0)
            self.kill_at = ctx.now + timedelta(seconds=seconds)
            for container in self.main + self.init:
                container.begin_termination(ctx, seconds)
        if ctx.now < self.kill_at:
            return self.kill_at
        for container in self.main + self.init:
            container.finish_termination(ctx, self.kill_at)
        if self.start_time and not self.final_phase:
            completed = all(c.succeeded for c in self.main)
            self.final_phase = "Succeeded" if completed else "Failed"
        self.finished = True
        return None

    # -- status --------------------------------------------------------------------------------------------

    def summary(self) -> conditions.Containers:
        sidecars = [c for c in self.init if c.sidecar]
        readiness = self.main + [c for c in sidecars if c.started]
        incomplete = [c.name for c in self.init if not (c.succeeded or (c.sidecar and c.started))]
        return conditions.Containers(
            main=tuple((c.running, c.finished is None and not c.running, c.completed) for c in self.main),
            ready=tuple(c.name for c in readiness if c.ready),
            unready=tuple(c.name for c in readiness if not c.ready),
            init_incomplete=() if self.initialized else tuple(incomplete),
            init_failed=any(
                not c.sidecar and c.finished is not None and c.finished.get("exitCode") != 0 for c in self.init
            ),
        )

    def phase(self) -> str:
        if self.final_phase:
            return self.final_phase
        return conditions.phase(self.summary(), self.restart_policy)

    def status(self, pod: Obj, now: datetime) -> Obj:
        """The pod status the kubelet reports now."""
        existing = pod.get("status") or {}
        status = {k: copy.deepcopy(v) for k, v in existing.items() if k not in _OWNED}
        generation = pod["metadata"].get("generation")
        if isinstance(generation, int):
            status["observedGeneration"] = generation
        phase = self.phase()
        spec = pod.get("spec") or {}
        gates = [g.get("conditionType") for g in spec.get("readinessGates") or [] if isinstance(g, dict)]
        status["phase"] = phase
        status["conditions"] = conditions.conditions(
            [c for c in existing.get("conditions") or [] if isinstance(c, dict)],
            self.summary(),
            sandbox=self.sandbox,
            pod_phase=phase,
            readiness_gates=[str(g) for g in gates if g],
            now=clock.stamp(now),
            generation=generation if isinstance(generation, int) else None,
        )
        status["hostIP"] = NODE_IP
        status["hostIPs"] = [{"ip": NODE_IP}]
        if self.ip:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        if self.start_time:
            status["startTime"] = self.start_time
        if self.init:
            status["initContainerStatuses"] = [c.status() for c in self.init]
        status["containerStatuses"] = [c.status() for c in self.main]
        if self.final_reason is not None:
            status["reason"], status["message"] = self.final_reason
        return status
