"""Desired state against live state, per resource: what makes a resource Synced or OutOfSync.

A live object is in sync when every field the desired manifest sets has the same value live (fields the
cluster added, such as defaults and status, do not count), and no field applied earlier but since removed from
Git is still there. "Applied earlier" is what the last apply recorded: the `last-applied-configuration`
annotation after a client-side-like apply, or the fields the controller's field manager owns after a
server-side apply. That is Argo CD's three-way diff in spirit: a `kubectl edit` that changes a field from Git
makes the resource OutOfSync, one that only adds a field does not.

Values compare as the API server normalises them: numbers and their string forms, resource quantities
(`0.5` and `500m`), empty maps and lists against absent ones, and a Secret's `stringData` against its `data`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .tracking import ResourceKey

JSON = dict[str, Any]

SYNCED = "Synced"
OUT_OF_SYNC = "OutOfSync"
UNKNOWN = "Unknown"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER = "argocd-controller"
IGNORED_METADATA = ("creationTimestamp", "resourceVersion", "uid", "generation", "managedFields", "selfLink")

_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


@dataclass
class Resource:
    """One resource of the comparison: its desired and live object (either may be None) and the verdict."""

    key: ResourceKey
    version: str
    target: JSON | None
    live: JSON | None
    status: str = SYNCED

    @property
    def requires_pruning(self) -> bool:
        return self.target is None and self.live is not None and self.status != UNKNOWN


@dataclass
class Comparison:
    """The verdict over a whole app."""

    resources: list[Resource] = field(default_factory=list)

    @property
    def status(self) -> str:
        return OUT_OF_SYNC if any(r.status == OUT_OF_SYNC for r in self.resources) else SYNCED


def compare(targets: dict[ResourceKey, JSON], lives: dict[ResourceKey, JSON]) -> Comparison:
    """Compare every desired object with its live counterpart, and every tracked live object nobody desires."""
    resources = []
    for key in sorted(set(targets) | set(lives)):
        target, live = targets.get(key), lives.get(key)
        version = str(((target or live) or {}).get("apiVersion") or "").rpartition("/")[2]
        status = OUT_OF_SYNC if target is None or live is None or out_of_sync(target, live) else SYNCED
        resources.append(Resource(key, version, target, live, status))
    return Comparison(resources)


def out_of_sync(target: JSON, live: JSON) -> bool:
    """Whether the live object differs from the desired one."""
    desired = normalized_target(target)
    if not contains(live, desired, ("",)):
        return True
    return any(_present(live, path) for path in removed_paths(applied_config(live), desired))


def normalized_target(target: JSON) -> JSON:
    """The desired object as it is compared: no status or server-set metadata; Secret stringData as data."""
    result = {k: v for k, v in target.items() if k not in ("status", "apiVersion")}
    metadata = {k: v for k, v in (result.get("metadata") or {}).items() if k not in IGNORED_METADATA}
    result["metadata"] = metadata
    if result.get("kind") == "Secret" and isinstance(result.get("stringData"), dict):
        data = dict(result.get("data") or {})
        for key, value in result.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        result["data"] = data
    return result


def contains(live: Any, desired: Any, path: tuple[str, ...]) -> bool:
    """Whether `live` has every value `desired` sets (maps by key, lists element by element)."""
    if _empty(desired):
        return _empty(live)
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(contains(live.get(key), value, (*path, key)) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(contains(have, want, path) for have, want in zip(live, desired, strict=True))
    return same_value(live, desired)


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def same_value(live: Any, desired: Any) -> bool:
    """Scalars as the server normalises them: `1` and `"1"`, `0.5` and `"500m"`, `1Gi` and `1024Mi`."""
    if isinstance(live, bool) or isinstance(desired, bool):
        return live is desired
    if live == desired:
        return True
    if isinstance(live, int | float) and isinstance(desired, int | float):
        return float(live) == float(desired)
    left, right = _quantity(live), _quantity(desired)
    return left is not None and left == right


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix]
    except (InvalidOperation, KeyError):
        return None


def applied_config(live: JSON) -> JSON | None:
    """What the controller applied last: the last-applied annotation, else the fields its manager owns."""
    metadata = live.get("metadata") or {}
    annotation = (metadata.get("annotations") or {}).get(LAST_APPLIED)
    if isinstance(annotation, str):
        try:
            parsed = json.loads(annotation)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    for entry in metadata.get("managedFields") or []:
        if isinstance(entry, dict) and entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            return _owned_skeleton(entry.get("fieldsV1"))
    return None


def _owned_skeleton(fields: Any) -> JSON:
    """fieldsV1 as a map of owned map fields (list items are not followed): `{"spec": {"replicas": {}}}`."""
    skeleton: JSON = {}
    for key, value in (fields or {}).items() if isinstance(fields, dict) else ():
        if isinstance(key, str) and key.startswith("f:"):
            child = _owned_skeleton(value) if isinstance(value, dict) else {}
            skeleton[key[2:]] = child if child or not _is_list_owner(value) else {"": {}}
    return skeleton


def _is_list_owner(value: Any) -> bool:
    return isinstance(value, dict) and any(isinstance(k, str) and k[:2] in ("k:", "v:", "i:") for k in value)


def removed_paths(applied: JSON | None, desired: JSON) -> Iterator[tuple[str, ...]]:
    """Map paths applied before but no longer desired (status and server metadata aside)."""
    if not applied:
        return
    yield from _removed(applied, desired, ())


def _removed(applied: JSON, desired: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for key, value in applied.items():
        if key == "" or (not path and key in ("status", "apiVersion", "kind")):
            continue
        if path == ("metadata",) and key in (*IGNORED_METADATA, "name", "namespace"):
            continue
        here = (*path, key)
        if not isinstance(desired, dict) or key not in desired:
            yield here
        elif isinstance(value, dict) and value and isinstance(desired[key], dict):
            yield from _removed(value, desired[key], here)


def _present(obj: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
    return not _empty(obj)
