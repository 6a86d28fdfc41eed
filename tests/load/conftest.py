"""Load runs: long, so they run only when asked for with `-m load` (as `make bench` does), never in `make test`.

Their sizes are settings, so a quick run is possible: DRIFTLAB_LOAD_LABS (20 labs), DRIFTLAB_LOAD_CLIENTS (50
API clients) and DRIFTLAB_LOAD_SECONDS (60 s of API load).
"""

from __future__ import annotations

import math
import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "load" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a load run: select it with -m load (make bench does)")
    for item in items:
        if item.get_closest_marker("load") is not None:
            item.add_marker(skip)


def setting(name: str, default: int) -> int:
    """A positive whole number from the environment, else the default."""
    value = os.environ.get(name, "")
    try:
        number = int(value)
    except ValueError:
        return default
    return number if number > 0 else default


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0–100) by the nearest-rank method; infinity for no samples."""
    if not samples:
        return math.inf
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
