"""The daemon record (`daemon.json`: pid and port) and the files of a cluster's state folder.

Kept apart from the daemon so the command line can read it without importing the whole API server.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...paths import write_private

DB_FILE = "cluster.db"
RECORD_FILE = "daemon.json"
LOCK_FILE = "daemon.lock"
LOG_FILE = "daemon.log"


def read_record(state: Path) -> dict[str, object]:
    try:
        return dict(json.loads((state / RECORD_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def write_record(state: Path, record: dict[str, object]) -> None:
    write_private(state / RECORD_FILE, json.dumps(record, indent=2))
