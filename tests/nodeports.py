"""Shipped courses serve the same NodePorts on 127.0.0.1 in every cluster (30100, 30200, 30300): tests that bring
up their labs on this machine's network take this lock, one at a time, across pytest's workers."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "driftlab-node-ports.lock"


@contextlib.contextmanager
def node_ports() -> Iterator[None]:
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
