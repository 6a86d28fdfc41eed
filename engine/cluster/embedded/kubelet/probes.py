"""Readiness, liveness and startup probes, run on the probe's own schedule against the container's RunPlan.

A probe runs at initialDelaySeconds and then every periodSeconds of the container's life. Its verdict flips
after successThreshold successes or failureThreshold failures in a row, as in the kubelet's probe workers;
each failure is reported (an Unhealthy event). While a probe keeps passing and cannot change until the
plan's next change, the runs in between are skipped: they would change nothing and report nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ..workloads import RunPlan

Obj = dict[str, Any]
Kind = Literal["readiness", "liveness", "startup"]
_LABELS: dict[str, str] = {"readiness": "Readiness", "liveness": "Liveness", "startup": "Startup"}
_CATCH_UP = 8  # at most this many missed runs are replayed; older ones could not change the verdict


@dataclass(frozen=True)
class ProbeRun:
    """What one run found. `tripped`: the failures reached the threshold of a liveness or startup probe."""

    success: bool
    message: str
    changed: bool = False
    tripped: bool = False

    def event_message(self, kind: Kind) -> str:
        return f"{_LABELS[kind]} probe failed: {self.message}"


@dataclass
class Probe:
    kind: Kind
    spec: Obj
    delay: float
    period: float
    success_threshold: int
    failure_threshold: int
    verdict: bool
    successes: int = 0
    failures: int = 0
    runs: int = 0  # index of the next run

    @classmethod
    def of(cls, container: Obj, kind: Kind) -> Probe | None:
        spec = container.get(f"{kind}Probe")
        if not isinstance(spec, dict):
            return None
        return cls(
            kind=kind,
            spec=spec,
            delay=float(_number(spec.get("initialDelaySeconds"), 0)),
            period=float(max(_number(spec.get("periodSeconds"), 10), 1)),
            success_threshold=max(_number(spec.get("successThreshold"), 1), 1),
            failure_threshold=max(_number(spec.get("failureThreshold"), 3), 1),
            # Until a probe says otherwise a container is live, but neither ready nor started.
            verdict=kind == "liveness",
        )

    def at(self, index: int) -> float:
        """Seconds after the container started of run number `index`."""
        return self.delay + index * self.period

    def due(self, age: float) -> bool:
        return self.at(self.runs) <= age

    def run(self, plan: RunPlan, age: float) -> list[ProbeRun]:
        """Perform the runs due by `age` (the last few, if many were missed), stopping at a trip."""
        last_due = math.floor((age - self.delay) / self.period)
        self.runs = max(self.runs, last_due - _CATCH_UP + 1)
        results = []
        while self.due(age):
            results.append(self._once(plan, self.at(self.runs)))
            self.runs += 1
            if results[-1].tripped:
                break
        return results

    def _once(self, plan: RunPlan, at: float) -> ProbeRun:
        result = plan.probe(self.kind, self.spec, at)
        before = self.verdict
        tripped = False
        if result.success:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.success_threshold:
                self.verdict = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.failure_threshold:
                if self.kind == "readiness":
                    self.verdict = False
                else:
                    tripped = True
                    self.failures = 0
        return ProbeRun(result.success, result.message, self.verdict != before, tripped)

    def next_run(self, plan: RunPlan, age: float) -> float | None:
        """Seconds after start of the next run that could change or report something."""
        upcoming = self.at(self.runs)
        settled = self.verdict and self.failures == 0 and self.successes >= self.success_threshold
        if self.kind == "liveness":
            settled = self.failures == 0
        if not settled or "exec" in self.spec:
            return upcoming
        change = plan.next_change(age)
        if change is None:
            return None
        index = max(self.runs, math.ceil((change - self.delay) / self.period))
        return self.at(index)


def _number(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
