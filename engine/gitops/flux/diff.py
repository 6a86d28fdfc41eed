"""`driftlab gitops diff ks/NAME`: what a Kustomization would do with the Git head (or a local folder).

The same steps as the controller, stopped before anything is written: fetch the source's head with the
GitRepository's credentials (or take the folder given), build it as kustomize-controller builds it, label the
objects, and compare each with the cluster through a server-side dry-run apply. Objects in the inventory that
the build no longer has are `deleted` when the Kustomization prunes, as `flux diff` prints them; one a control
keeps (`prune: disabled`) says so, since it leaves Git's management all the same. A change that deletes is
exactly what the 2024-02-21 outage needed to be stopped by, so the command exits 1 for it.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

from ... import proc
from ...cluster.client import JSON, KubeClient
from ...cluster.errors import ApiError, ClusterError
from ...errors import DriftlabError
from .. import fetch
from ..build import BuildError, PathNotFound
from ..diff import CREATED, DELETED, DRIFTED, SKIPPED, Change
from ..objects import ObjectRef
from ..status import API_VERSIONS
from . import controls, generate, inventory
from .apply import FIELD_MANAGER, comparable, prepare
from .errors import FluxError
from .refs import GitRef
from .source import basic_auth
from .spec import KustomizationSpec, parse


def diff_kustomization(client: KubeClient, obj: JSON, local: Path | None = None) -> list[Change]:
    """The changes applying the head of the Kustomization's source (or `local`) would make, in apply order."""
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace") or "default"
    try:
        spec = parse(obj)
    except FluxError as err:
        raise DriftlabError(f"Kustomization {namespace}/{name}: {err}") from None
    with tempfile.TemporaryDirectory(prefix="driftlab-diff-") as scratch:
        root, path = _sources(client, spec, Path(scratch), local)
        try:
            built = generate.build(root, _with_path(spec, path))
        except (BuildError, PathNotFound) as err:
            raise DriftlabError(f"kustomize build failed: {err}") from None
    desired = prepare(built, name, namespace, spec.common_metadata)
    changes = [change for change in (_compare(client, item) for item in desired) if change is not None]
    if spec.prune:
        kept = {ObjectRef.of(item).id for item in desired}
        old = inventory.read((obj.get("status") or {}).get("inventory"))
        changes += [c for c in (_stale(client, ref, name, namespace) for ref in old if ref.id not in kept) if c]
    return changes


def _with_path(spec: KustomizationSpec, path: str) -> KustomizationSpec:
    return replace(spec, path=path)


def _sources(client: KubeClient, spec: KustomizationSpec, scratch: Path, local: Path | None) -> tuple[Path, str]:
    """A writable copy of what to build and the path in it: the local folder's work tree, or the Git head."""
    if local is not None:
        if not local.is_dir():
            raise DriftlabError(f"{local}: no such folder")
        top = _work_tree(local)
        copy = scratch / "tree"
        shutil.copytree(top, copy, ignore=shutil.ignore_patterns(".git"))
        return copy, "./" + local.resolve().relative_to(top).as_posix()
    source = spec.source
    if source.kind != "GitRepository":
        raise DriftlabError(f"source kind '{source.kind}' is not supported: only GitRepository")
    repositories = client.resolve("GitRepository", API_VERSIONS["GitRepository"])
    repository = client.get(repositories, source.name, source.namespace)
    if repository is None:
        raise DriftlabError(f"GitRepository {source.namespace}/{source.name} not found")
    repo_spec = repository.get("spec") or {}
    try:
        ref = GitRef.parse(repo_spec.get("ref")).fetch_ref()
    except FluxError as err:
        raise DriftlabError(str(err)) from None
    credentials = None
    secret_ref = repo_spec.get("secretRef") or {}
    if secret_ref.get("name"):
        secret = client.get(client.resolve("Secret", "v1"), str(secret_ref["name"]), source.namespace)
        credentials = basic_auth(secret) if secret is not None else None
    try:
        sha = fetch.fetch(str(repo_spec.get("url") or ""), ref, scratch / "mirror", credentials)
        fetch.checkout(scratch / "mirror", sha, scratch / "tree")
    except fetch.FetchError as err:
        raise DriftlabError(f"cannot fetch {repo_spec.get('url')}: {err}") from None
    return scratch / "tree", spec.path


def _work_tree(folder: Path) -> Path:
    """The Git work tree holding `folder` (so a kustomization may refer to files beside it), else the folder."""
    result = proc.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"])
    return Path(result.stdout.strip()).resolve() if result.ok and result.stdout.strip() else folder.resolve()


def _compare(client: KubeClient, desired: JSON) -> Change | None:
    ref = ObjectRef.of(desired)
    try:
        resource = client.resource_of(desired)
    except ClusterError:
        return Change(ref, CREATED, "its kind is not served yet (a CRD in the same change?)")
    live = client.get(resource, ref.name, ref.namespace or None)
    if controls.skip_apply(desired, live):
        return Change(ref, SKIPPED, "a control annotation keeps it as it is")
    if live is None:
        return Change(ref, CREATED)
    try:
        dry_run = client.apply(desired, FIELD_MANAGER, dry_run=True)
    except ApiError as err:
        return Change(ref, DRIFTED, f"the API server would refuse it: {err}")
    before, after = comparable(live), comparable(dry_run)
    if before == after:
        return None
    return Change(ref, DRIFTED, _yaml_diff(before, after))


def _stale(client: KubeClient, ref: ObjectRef, name: str, namespace: str) -> Change | None:
    try:
        resource = client.resolve(ref.kind, ref.api_version)
    except ClusterError:
        return None
    live = client.get(resource, ref.name, ref.namespace or None)
    if live is None:
        return None
    reason = controls.prune_skip_reason(live, name, namespace)
    if reason:
        # Listed as `flux diff` lists it: the change drops it from what Git manages, even if Flux keeps it.
        return Change(ref, DELETED, f"Flux will not delete it ({reason}), but Git will no longer manage it")
    return Change(ref, DELETED)


def _yaml_diff(before: JSON, after: JSON) -> str:
    old = yaml.safe_dump(before, sort_keys=True).splitlines()
    new = yaml.safe_dump(after, sort_keys=True).splitlines()
    lines = difflib.unified_diff(old, new, "live", "merged", lineterm="", n=1)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++")))
