"""`absent`: no object matches the target (one being deleted still counts as present)."""

from __future__ import annotations

from ..reader import JSON, Read
from ..spec import Target
from .common import Verdict, deleting, names_of, target_title


def title(body: Target) -> str:
    return f"{target_title(body)} is absent"


def judge(body: Target, objects: list[JSON], read: Read) -> Verdict:
    subject = read.describe()
    if not objects:
        return Verdict(True, f"{subject} is absent" if read.name else f"no {subject}", "absent", "absent")
    if read.name:
        state = "it still being deleted" if deleting(objects[0]) else "it present"
        return Verdict(False, f"{subject}: expected it to be absent, found {state}", "absent", state)
    waiting = sum(1 for obj in objects if deleting(obj))
    note = f" ({waiting} being deleted)" if waiting else ""
    return Verdict(
        False,
        f"expected no {subject}, found {len(objects)}: {names_of(objects)}{note}",
        "none",
        str(len(objects)),
    )
