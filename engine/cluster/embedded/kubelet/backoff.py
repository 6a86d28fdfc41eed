"""The kubelet's back-off: how long a crashing container or a failing image pull waits before the next try.

Delays double from `backoff_base` up to `backoff_max` (10s, 20s, 40s ... 5m on a real node). They start at
MIN_DELAY at least and may grow to MIN_CAP at least, so that a lab running with zero timings still shows
CrashLoopBackOff, with growing delays, instead of restarting as fast as it can.
"""

from __future__ import annotations

from ..settings import PodTimings

MIN_DELAY = 0.1
MIN_CAP = 1.0
_MAX_DOUBLINGS = 30


def _bounds(timings: PodTimings) -> tuple[float, float]:
    base = max(timings.backoff_base, MIN_DELAY)
    return base, max(timings.backoff_max, base, MIN_CAP)


def delay(level: int, timings: PodTimings) -> float:
    """Seconds to wait before the next try after `level` earlier back-offs (0: the first retry is at once)."""
    if level <= 0:
        return 0.0
    base, cap = _bounds(timings)
    return min(base * 2 ** min(level - 1, _MAX_DOUBLINGS), cap)


def pull_delay(failures: int, timings: PodTimings) -> float:
    """Seconds before pulling again after `failures` failed pulls in a row (the first wait is the base)."""
    return delay(max(failures, 1), timings)


def forgiven_after(timings: PodTimings) -> float:
    """A container that ran this long before exiting restarts at once, its earlier crashes forgotten."""
    return 2 * _bounds(timings)[1]
