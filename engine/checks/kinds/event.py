"""`event`: an Event about an object (its involvedObject) was recorded, with a reason, type and message."""

from __future__ import annotations

import re
from typing import Any

from ..reader import JSON, Read
from ..spec import EventCheck
from .common import Scope, Verdict


def read(body: EventCheck, scope: Scope) -> Read:
    """Events about the object, in its namespace (any namespace for cluster-scoped objects such as Nodes)."""
    involved = scope.resolve(body.kind, None)
    events = scope.resolve("Event", "v1")
    namespace = (body.namespace or scope.namespace) if involved.namespaced else body.namespace
    selector = f"involvedObject.kind={involved.kind},involvedObject.name={body.name}"
    return Read(events, namespace, None, None, selector)


def title(body: EventCheck) -> str:
    return f"event {body.reason} about {body.kind} {body.name}"


def _subject(body: EventCheck, read: Read) -> str:
    match = re.search(r"involvedObject\.kind=([^,]+)", read.field_selector or "")
    kind = match.group(1) if match else body.kind
    return f"{kind} {read.namespace}/{body.name}" if read.namespace else f"{kind} {body.name}"


def _wanted(body: EventCheck) -> str:
    text = f"{'a ' + body.type + ' event' if body.type else 'an event'} {body.reason}"
    return f"{text} with a message matching {body.message}" if body.message else text


def judge(body: EventCheck, objects: list[JSON], read: Read) -> Verdict:
    subject = _subject(body, read)
    expected = _wanted(body)
    events = sorted(objects, key=_when, reverse=True)
    matching = [e for e in events if _matches(body, e)]
    if matching:
        latest = matching[0]
        message = str(latest.get("message") or "").strip()
        found = f"{latest.get('type', '')} {latest.get('reason', '')}".strip()
        return Verdict(
            True,
            f"{subject}: event {body.reason} seen" + (f" ({message})" if message else ""),
            expected,
            found,
        )
    same_reason = [e for e in events if e.get("reason") == body.reason]
    if same_reason:
        latest = same_reason[0]
        found = f"{latest.get('type', '')} {body.reason}: {str(latest.get('message') or '').strip()}"
    elif events:
        reasons = ", ".join(dict.fromkeys(str(e.get("reason", "?")) for e in events))
        found = f"only {reasons}"
    else:
        found = "no events about it"
    return Verdict(False, f"{subject}: expected {expected}, found {found}", expected, found)


def _matches(body: EventCheck, event: JSON) -> bool:
    if event.get("reason") != body.reason:
        return False
    if body.type and event.get("type") != body.type:
        return False
    return not body.message or re.search(body.message, str(event.get("message") or "")) is not None


def _when(event: JSON) -> str:
    metadata: Any = event.get("metadata") or {}
    for value in (event.get("lastTimestamp"), event.get("eventTime"), metadata.get("creationTimestamp")):
        if isinstance(value, str) and value:
            return value
    return ""
