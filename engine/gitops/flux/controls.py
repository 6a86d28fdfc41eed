"""Per-object controls of the kustomize-controller: ownership labels and the `kustomize.toolkit.fluxcd.io/*`
labels or annotations that change how an object is applied or pruned.

- `…/ssa`: `Override` (default: kubectl edits are reverted), `Merge` (fields other tools added are kept),
  `IfNotPresent` (created, never updated), `Ignore` (neither applied nor pruned).
- `…/reconcile: disabled`: neither applied nor pruned. `…/prune: disabled`: never garbage-collected.
- `…/force: enabled`: recreated when an immutable field changes.
A control counts whether it sits on the manifest in Git or on the object in the cluster, as a label or as an
annotation.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

GROUP = "kustomize.toolkit.fluxcd.io"
NAME_LABEL = f"{GROUP}/name"
NAMESPACE_LABEL = f"{GROUP}/namespace"
SSA = f"{GROUP}/ssa"
PRUNE = f"{GROUP}/prune"
RECONCILE = f"{GROUP}/reconcile"
FORCE = f"{GROUP}/force"

DISABLED = "disabled"
ENABLED = "enabled"
OVERRIDE = "Override"
MERGE = "Merge"
IF_NOT_PRESENT = "IfNotPresent"
IGNORE = "Ignore"


def marked(obj: JSON | None, key: str, value: str) -> bool:
    """Whether `obj` carries `key: value` as a label or an annotation."""
    metadata = (obj or {}).get("metadata") or {}
    for section in ("labels", "annotations"):
        values = metadata.get(section)
        if isinstance(values, dict) and values.get(key) == value:
            return True
    return False


def marked_either(desired: JSON | None, live: JSON | None, key: str, value: str) -> bool:
    return marked(desired, key, value) or marked(live, key, value)


def owner_labels(name: str, namespace: str) -> dict[str, str]:
    return {NAME_LABEL: name, NAMESPACE_LABEL: namespace}


def set_owner_labels(obj: JSON, name: str, namespace: str) -> JSON:
    """Label a manifest as managed by Kustomization `namespace/name` (in place); returns it."""
    metadata = obj.setdefault("metadata", {})
    labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    metadata["labels"] = {**labels, **owner_labels(name, namespace)}
    return obj


def owned_by(live: JSON | None, name: str, namespace: str) -> bool:
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    return isinstance(labels, dict) and all(labels.get(k) == v for k, v in owner_labels(name, namespace).items())


def skip_apply(desired: JSON, live: JSON | None) -> bool:
    """Flux's apply exclusions: `reconcile: disabled` or `ssa: Ignore`, or `ssa: IfNotPresent` once it exists."""
    if marked_either(desired, live, RECONCILE, DISABLED) or marked_either(desired, live, SSA, IGNORE):
        return True
    return live is not None and bool((live.get("metadata") or {}).get("uid")) and marked(desired, SSA, IF_NOT_PRESENT)


def keeps_foreign_fields(desired: JSON, live: JSON | None) -> bool:
    """`ssa: Merge`: leave kubectl's managed fields alone, so only overlapping fields are taken back."""
    return marked_either(desired, live, SSA, MERGE)


def may_recreate(desired: JSON, live: JSON | None, force: bool) -> bool:
    return force or marked_either(desired, live, FORCE, ENABLED)


def prune_skip_reason(live: JSON, name: str, namespace: str) -> str | None:
    """Why garbage collection must leave `live` alone, or None when it may be deleted."""
    if not owned_by(live, name, namespace):
        return "it lost the ownership labels"
    if marked(live, PRUNE, DISABLED):
        return f"{PRUNE}: {DISABLED}"
    if marked(live, RECONCILE, DISABLED):
        return f"{RECONCILE}: {DISABLED}"
    if marked(live, SSA, IGNORE):
        return f"{SSA}: {IGNORE}"
    return None
