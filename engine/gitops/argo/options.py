"""Sync options: the app's `syncPolicy.syncOptions`, the operation's, and an object's own annotation.

Options are `Name=value` strings (`CreateNamespace=true`, `PruneLast=true`, `ApplyOutOfSyncOnly=true`,
`ServerSideApply=true`, `Validate=false`, `PrunePropagationPolicy=background`). Objects narrow them with
`argocd.argoproj.io/sync-options: Prune=false,Delete=false` (comma separated), as Argo CD reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}


def parse(options: Iterable[Any] | None) -> dict[str, str]:
    """`["CreateNamespace=true", ...]` as a map; entries that are not `Name=value` are ignored."""
    parsed: dict[str, str] = {}
    for option in options if isinstance(options, list | tuple) else ():
        if isinstance(option, str) and "=" in option:
            name, _, value = option.partition("=")
            parsed[name.strip()] = value.strip()
    return parsed


@dataclass(frozen=True)
class SyncOptions:
    """The options one sync runs with."""

    create_namespace: bool = False
    prune_last: bool = False
    apply_out_of_sync_only: bool = False
    server_side_apply: bool = False
    validate: bool = True
    prune_propagation: str = "Foreground"

    @classmethod
    def of(cls, *lists: Iterable[Any] | None) -> SyncOptions:
        """Options from several lists (the app's, then the operation's: a later list wins)."""
        merged: dict[str, str] = {}
        for options in lists:
            merged.update(parse(options))
        return cls(
            create_namespace=_true(merged.get("CreateNamespace")),
            prune_last=_true(merged.get("PruneLast")),
            apply_out_of_sync_only=_true(merged.get("ApplyOutOfSyncOnly")),
            server_side_apply=_true(merged.get("ServerSideApply")),
            validate=merged.get("Validate", "true").lower() != "false",
            prune_propagation=PROPAGATION.get(merged.get("PrunePropagationPolicy", "").lower(), "Foreground"),
        )


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"


def object_options(obj: JSON | None) -> dict[str, str]:
    """The options an object's `argocd.argoproj.io/sync-options` annotation sets."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_OPTIONS_ANNOTATION)
    return parse(value.split(",")) if isinstance(value, str) else {}


def prune_disabled(obj: JSON | None) -> bool:
    return object_options(obj).get("Prune", "").lower() == "false"


def delete_disabled(obj: JSON | None) -> bool:
    return object_options(obj).get("Delete", "").lower() == "false"


def object_wants(obj: JSON | None, name: str) -> bool:
    return _true(object_options(obj).get(name))
