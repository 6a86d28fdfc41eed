"""Names of the clusters labs run on: light on imports, so `lab up` can start a cluster before anything else."""

from __future__ import annotations

import re

from .. import paths

LAB_PREFIX = "lab-"


def cluster_name(course_name: str, prefix: str = LAB_PREFIX, suffix: str = "") -> str:
    """A valid cluster name for a course: its folder name made a DNS label, with prefix (and suffix)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", course_name.lower()).strip("-") or "course"
    room = 63 - len(prefix) - len(suffix)
    return paths.check_name(f"{prefix}{slug[:room].rstrip('-')}{suffix}")
