"""A Kustomization's `status.inventory`: the objects it applied, and which of them became stale.

Entries are `{id: "<namespace>_<name>_<group>_<kind>", v: "<version>"}`. Objects are compared by id only, so
an object re-applied in another API version stays the same object.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..objects import ObjectRef

JSON = dict[str, Any]


def read(inventory: Any) -> list[ObjectRef]:
    """The objects of a status inventory, skipping malformed entries (a hand-edited status must not crash us)."""
    entries = inventory.get("entries") if isinstance(inventory, dict) else None
    refs: list[ObjectRef] = []
    for entry in entries if isinstance(entries, list) else []:
        ref = ObjectRef.from_entry(entry) if isinstance(entry, dict) else None
        if ref is not None and all(not ref.same_object(known) for known in refs):
            refs.append(ref)
    return refs


def write(refs: Iterable[ObjectRef]) -> JSON:
    """The status inventory for `refs`, in their order."""
    return {"entries": [ref.entry() for ref in refs]}


def stale(old: Iterable[ObjectRef], new: Iterable[ObjectRef]) -> list[ObjectRef]:
    """Objects of the old inventory missing from the new one: what garbage collection considers."""
    current = {ref.id for ref in new}
    return [ref for ref in old if ref.id not in current]


def merge(refs: Iterable[ObjectRef], survivors: Iterable[ObjectRef]) -> list[ObjectRef]:
    """`refs` plus the `survivors` not in it: objects whose delete failed stay tracked for the next run."""
    merged = list(refs)
    known = {ref.id for ref in merged}
    for ref in survivors:
        if ref.id not in known:
            merged.append(ref)
            known.add(ref.id)
    return merged
