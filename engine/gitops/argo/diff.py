"""`driftlab gitops diff app/NAME`: what a sync to the Git head (or a local folder) would do, as `argocd app diff`.

The application controller's own comparison, run once from the command line: render the source at its
target revision (or the folder given, rendered as the source would be), place the objects as the app would,
compare them with the live objects the app tracks. Desired but absent is `created`, different is `drifted`,
tracked but no longer desired is `deleted`; without automated prune a sync keeps it, and the line says so.
"""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

from ...cluster.client import JSON, KubeClient
from ...errors import DriftlabError
from ..diff import CREATED, DELETED, DRIFTED, Change
from ..objects import ObjectRef
from .compare import OUT_OF_SYNC, Comparison, compare, normalized_target
from .live import LiveState
from .manifests import ManifestError, ManifestGenerator, Source, render
from .state import StateLoader
from .targets import prepare
from .tracking import instance_name


def diff_application(client: KubeClient, app: JSON, local: Path | None = None) -> list[Change]:
    """The changes a sync of `app` would make, in the order Argo CD compares them."""
    live = LiveState(client, lambda _obj: None)
    try:
        with tempfile.TemporaryDirectory(prefix="driftlab-diff-") as scratch:
            loader = StateLoader(client, live, ManifestGenerator(Path(scratch)))
            comparison = _compare_local(loader, app, local) if local else _compare_head(loader, app)
    finally:
        live.stop()
    prunes = _prunes(app)
    changes = []
    for resource in comparison.resources:
        obj = resource.target or resource.live or {}
        ref = ObjectRef.of(obj)
        if resource.live is None:
            changes.append(Change(ref, CREATED))
        elif resource.target is None:
            kept = "" if prunes else "a sync keeps it: automated sync does not prune (prune: false)"
            changes.append(Change(ref, DELETED, kept))
        elif resource.status == OUT_OF_SYNC:
            changes.append(Change(ref, DRIFTED, _yaml_diff(resource.live, normalized_target(resource.target))))
    return changes


def _compare_head(loader: StateLoader, app: JSON) -> Comparison:
    state = loader.load(app)
    if state.error:
        raise DriftlabError(state.error)
    return state.comparison


def _compare_local(loader: StateLoader, app: JSON, local: Path) -> Comparison:
    if not local.is_dir():
        raise DriftlabError(f"{local}: no such folder")
    spec = app.get("spec") or {}
    try:
        source = replace(Source.of(spec), path=".")
        objects, _ = render(local, source)
    except ManifestError as err:
        raise DriftlabError(str(err)) from None
    instance, live = instance_name(app), loader.live
    targets = prepare(objects, instance, (spec.get("destination") or {}).get("namespace"), live.resource)
    loader.watch(app, targets)
    lives = live.tracked(instance)
    for key in targets.objects:
        found = live.get(key)
        if found is not None:
            lives[key] = found
    return compare(targets.objects, lives)


def _prunes(app: JSON) -> bool:
    automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    return isinstance(automated, dict) and automated.get("prune") is True


def _yaml_diff(live: JSON, desired: JSON) -> str:
    """The desired fields against the same fields of the live object (Argo CD ignores what Git does not set)."""
    shown = _subset(live, desired)
    old = yaml.safe_dump(shown, sort_keys=True).splitlines()
    new = yaml.safe_dump(desired, sort_keys=True).splitlines()
    lines = difflib.unified_diff(old, new, "live", "desired", lineterm="", n=1)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))


def _subset(live: object, desired: object) -> object:
    if isinstance(live, dict) and isinstance(desired, dict):
        return {key: _subset(live[key], value) for key, value in desired.items() if key in live}
    return live
