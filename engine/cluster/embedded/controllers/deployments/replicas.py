"""Replica arithmetic of the Deployment controller: surge and unavailability, counts over ReplicaSets,
proportional scaling, and the orders in which ReplicaSets are visited.

The figures round as the real ones do: maxSurge percentages round up, maxUnavailable percentages round down,
and when both resolve to zero maxUnavailable becomes 1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

from ..replicasets import parse_int, spec_replicas

Obj = dict[str, Any]

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


class DeploymentError(Exception):
    """A Deployment the controller cannot act on (a malformed strategy); the key is retried later."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Surge and unavailability -------------------------------------------------------------------------------


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent field against `total`, as intstr.GetScaledValueFromIntOrPercent computes it."""
    if value is None:
        raise DeploymentError("invalid value for IntOrString: nil value for IntOrString")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise DeploymentError(f"invalid value for IntOrString: invalid type: {type(value).__name__}")
    if not value.endswith("%"):
        raise DeploymentError("invalid value for IntOrString: invalid type: string is not a percentage")
    percent = parse_int(value[:-1])
    if percent is None:
        raise DeploymentError(f'invalid value for IntOrString: invalid value "{value}"')
    exact = float(percent) * float(total) / 100
    return int(math.ceil(exact) if round_up else math.floor(exact))


def is_rolling_update(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == ROLLING_UPDATE


def _rolling(d: Obj) -> Obj:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        # Rounding down can resolve both to zero; then at least one pod may be unavailable.
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    rolling = _rolling(d)
    try:
        return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), spec_replicas(d))[0]
    except DeploymentError:
        return 0


def max_unavailable(d: Obj) -> int:
    replicas = spec_replicas(d)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    rolling = _rolling(d)
    try:
        unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas)[1]
    except DeploymentError:
        return 0
    return min(unavailable, replicas)


def new_rs_new_replicas(d: Obj, all_rss: Iterable[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have right now."""
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type")
    replicas = spec_replicas(d)
    if strategy == RECREATE:
        return replicas
    if strategy != ROLLING_UPDATE:
        raise DeploymentError(f"deployment type {strategy} isn't supported")
    surge = scaled_value(_rolling(d).get("maxSurge"), replicas, True)
    current = replica_count(all_rss)
    most = replicas + surge
    if current >= most:
        return spec_replicas(new_rs)
    return spec_replicas(new_rs) + min(most - current, replicas - spec_replicas(new_rs))


# Counts ---------------------------------------------------------------------------------------------------


def status_int(obj: Obj | None, field: str) -> int:
    value = ((obj or {}).get("status") or {}).get(field) or 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def present(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None]


def replica_count(rss: Iterable[Obj | None]) -> int:
    """Desired pods: the sum of spec.replicas."""
    return sum(spec_replicas(rs) for rs in present(rss))


def actual_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in present(rss))


def ready_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in present(rss))


def available_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in present(rss))


def terminating_count(rss: Iterable[Obj | None]) -> int | None:
    """Terminating pods of all sets; None when a set that has been synced does not report the figure."""
    total = 0
    for rs in present(rss):
        status = rs.get("status") or {}
        if not status.get("observedGeneration") and status.get("terminatingReplicas") is None:
            continue
        value = status.get("terminatingReplicas")
        if not isinstance(value, int):
            return None
        total += value
    return total


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in present(rss) if spec_replicas(rs) > 0]


def annotation_int(rs: Obj | None, name: str) -> int | None:
    value = parse_int(((rs or {}).get("metadata", {}).get("annotations") or {}).get(name))
    return value if value is not None and -(2**31) <= value < 2**31 else None


# Orders ---------------------------------------------------------------------------------------------------


def _creation(rs: Obj) -> tuple[str, str]:
    return str(rs["metadata"].get("creationTimestamp") or ""), rs["metadata"]["name"]


def _sorted(rss: Iterable[Obj], less: Callable[[Obj, Obj], bool]) -> list[Obj]:
    def compare(a: Obj, b: Obj) -> int:
        return -1 if less(a, b) else (1 if less(b, a) else 0)

    return sorted(rss, key=functools.cmp_to_key(compare))


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first; sets created in the same second by name."""
    return sorted(rss, key=_creation)


def by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; among equals the newest first (who grows first when scaling up)."""

    def less(a: Obj, b: Obj) -> bool:
        if spec_replicas(a) == spec_replicas(b):
            return _creation(b) < _creation(a)
        return spec_replicas(a) > spec_replicas(b)

    return _sorted(rss, less)


def by_size_older(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; among equals the oldest first (who shrinks first when scaling down)."""

    def less(a: Obj, b: Obj) -> bool:
        if spec_replicas(a) == spec_replicas(b):
            return _creation(a) < _creation(b)
        return spec_replicas(a) > spec_replicas(b)

    return _sorted(rss, less)


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only set with replicas, or the newest set when none has any; None when several have replicas."""
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(by_creation(old_rss)))
    running = active([*newest_first, new_rs])
    if not running:
        return new_rs if new_rs is not None else newest_first[0]
    return running[0] if len(running) == 1 else None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The set has all the Deployment's replicas, wants exactly them, and all of them are available."""
    if rs is None:
        return False
    desired = annotation_int(rs, DESIRED_REPLICAS)
    if desired is None:
        return False
    replicas = spec_replicas(d)
    return spec_replicas(rs) == replicas and desired == replicas and status_int(rs, "availableReplicas") == replicas


def round_half_away(value: float) -> int:
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    """How many replicas `rs` gains (or loses) when the Deployment's size changes, by its share of the old size."""
    replicas = spec_replicas(d)
    if replicas == 0:
        return -spec_replicas(rs)
    most = replicas + max_surge(d)
    before = annotation_int(rs, MAX_REPLICAS)
    if not before:
        before = status_int(d, "replicas")
        if before == 0:
            return 0
    return round_half_away(spec_replicas(rs) * most / before) - spec_replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    if rs is None or spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)
