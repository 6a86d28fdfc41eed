"""`exists`: at least one object matches the target."""

from __future__ import annotations

from ..reader import JSON, Read
from ..spec import Target
from .common import Verdict, names_of, target_title


def title(body: Target) -> str:
    return f"{target_title(body)} exists"


def judge(body: Target, objects: list[JSON], read: Read) -> Verdict:
    subject = read.describe()
    if read.name:
        if objects:
            return Verdict(True, f"{subject} exists", "it exists", "it exists")
        return Verdict(False, f"{subject} does not exist", "it exists", "no such object")
    if objects:
        found = str(len(objects))
        return Verdict(True, f"{subject}: found {found} ({names_of(objects)})", "at least one", found)
    return Verdict(False, f"expected at least one of {subject}, found none", "at least one", "none")
