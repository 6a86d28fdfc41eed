"""Installing a pinned Flux or Argo CD release into a real cluster, and the Secrets its sources log in to Git with.

Everything goes through the real kubectl (via `engine.proc`) against the kubeconfig given, so what driftlab does is
what a learner could type: `kubectl apply -f install.yaml`, then waiting as `kubectl rollout status` would.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .. import proc
from ..errors import DriftlabError
from . import manifests
from .releases import Release, Workload
from .releases import release as pinned_release

Agent = Literal["flux", "argocd"]
Progress = Callable[[str], None]
POLL_INTERVAL = 2.0
FIELD_MANAGER = "driftlab"
MANAGED_BY = {"app.kubernetes.io/managed-by": "driftlab"}
ARGOCD_SECRET_TYPE = "argocd.argoproj.io/secret-type"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Kubectl:
    """The real kubectl pointed at one kubeconfig; failures become DriftlabErrors that quote kubectl."""

    kubeconfig: Path

    def run(self, *args: str, input: str | None = None, timeout: float = 60.0) -> proc.Result:
        command = [proc.tool("kubectl"), "--kubeconfig", str(self.kubeconfig), *args]
        try:
            return proc.run(command, input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriftlabError(f"{self.command(*args)} did not finish within {timeout:g}s") from None
        except OSError as error:
            raise DriftlabError(f"cannot run kubectl: {error}; reinstall driftlab (`make run`)") from None

    def check(self, *args: str, input: str | None = None, timeout: float = 60.0) -> proc.Result:
        result = self.run(*args, input=input, timeout=timeout)
        if not result.ok:
            raise DriftlabError(f"{self.command(*args)} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def command(self, *args: str) -> str:
        """The command as a learner would type it, for messages."""
        return shlex.join(["kubectl", "--kubeconfig", str(self.kubeconfig), *args])


def kubectl_for(kubeconfig: Path) -> Kubectl:
    path = Path(kubeconfig).expanduser()
    if not path.is_file():
        raise DriftlabError(f"no kubeconfig at {path}: start the cluster first")
    return Kubectl(path)


# -- installing ------------------------------------------------------------------------------------------------


def install(
    release: Release,
    kubeconfig: Path,
    *,
    progress: Progress,
    timeout: float,
    offline_file: Path | None = None,
    poll_interval: float = POLL_INTERVAL,
) -> None:
    """Fetch (or reuse) the release's manifest, apply it, and return once every listed workload is ready.

    `timeout` bounds the apply and the wait, not the download. Running it again on an installed cluster is
    harmless: the apply changes nothing and the wait ends at once.
    """
    manifest = manifests.fetch(release, offline_file=offline_file, progress=progress)
    kubectl = kubectl_for(kubeconfig)
    deadline = time.monotonic() + timeout
    if release.create_namespace:
        ensure_namespace(kubectl, release.namespace, progress=progress, who=release.name)
    _apply(kubectl, release, manifest, progress, deadline)
    _wait_ready(kubectl, release, progress, deadline, timeout, poll_interval)


def ensure_namespace(kubectl: Kubectl, namespace: str, *, progress: Progress, who: str) -> None:
    """Create the namespace unless it exists: Argo CD's install.yaml expects it, as a Secret's namespace does."""
    found = kubectl.run("get", "namespace", namespace, "-o", "name")
    if found.ok:
        return
    if "NotFound" not in found.stderr:
        raise DriftlabError(f"{kubectl.command('get', 'namespace', namespace)} failed: {found.stderr.strip()}")
    created = kubectl.run("create", "namespace", namespace)
    if created.ok:
        progress(f"{who}: created namespace {namespace}")
    elif "AlreadyExists" not in created.stderr:
        raise DriftlabError(f"{kubectl.command('create', 'namespace', namespace)} failed: {created.stderr.strip()}")


def _apply(kubectl: Kubectl, release: Release, manifest: Path, progress: Progress, deadline: float) -> None:
    args = ["apply", "-n", release.namespace, "-f", str(manifest)]
    if release.apply == "server-side":
        args[1:1] = ["--server-side", "--force-conflicts"]
    progress(f"{release.name}: applying {release.label} {release.filename} ({release.apply} apply)")
    result = kubectl.run(*args, timeout=max(deadline - time.monotonic(), 1.0))
    if not result.ok:
        raise DriftlabError(
            f"{release.label}: {kubectl.command(*args)} failed:\n{result.stderr.strip()}\n"
            "Fix what kubectl reports and run the install again; it picks up where it stopped."
        )


def _wait_ready(
    kubectl: Kubectl, release: Release, progress: Progress, deadline: float, timeout: float, interval: float
) -> None:
    shown: dict[Workload, str] = {}
    while True:
        statuses = _statuses(kubectl, release)
        for workload, status in statuses.items():
            if shown.get(workload) != status.summary:
                shown[workload] = status.summary
                progress(f"{release.name}: {workload.name} {status.summary}")
        pending = {w: s for w, s in statuses.items() if not s.ready}
        if not pending:
            progress(f"{release.name}: {release.label} is ready")
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DriftlabError(_timeout_message(kubectl, release, pending, timeout))
        time.sleep(min(interval, remaining))


def _statuses(kubectl: Kubectl, release: Release) -> dict[Workload, WorkloadStatus]:
    kinds = sorted({"deployments" if w.kind == "Deployment" else "statefulsets" for w in release.workloads})
    listed = kubectl.check("get", ",".join(kinds), "-n", release.namespace, "-o", "json")
    try:
        items = json.loads(listed.stdout).get("items") or []
    except (ValueError, AttributeError):
        raise DriftlabError(f"{kubectl.command('get', *kinds)} printed something that is not a JSON list") from None
    found = {(i.get("kind"), (i.get("metadata") or {}).get("name")): i for i in items if isinstance(i, dict)}
    missing = [w for w in release.workloads if (w.kind, w.name) not in found]
    if missing:
        names = ", ".join(f"{w.kind} {w.name}" for w in missing)
        raise DriftlabError(
            f"{release.label}: the manifest created no {names} in namespace {release.namespace}; "
            "the release's workloads in releases.yaml do not match its manifest"
        )
    return {w: workload_status(found[(w.kind, w.name)]) for w in release.workloads}


def _timeout_message(
    kubectl: Kubectl, release: Release, pending: Mapping[Workload, WorkloadStatus], timeout: float
) -> str:
    lines = [f"{release.label} is not ready after {timeout:g}s:"]
    lines += [f"  {w.kind} {w.name}: {s.summary}, {s.detail}" for w, s in pending.items()]
    lines.append("To see why, run:")
    lines += [f"  {kubectl.command('-n', release.namespace, 'describe', w.ref)}" for w in pending]
    lines.append(f"  {kubectl.command('-n', release.namespace, 'get', 'pods')}")
    lines.append("Image pulls can be slow: running the install again keeps waiting where this one stopped.")
    return "\n".join(lines)


# -- readiness, as `kubectl rollout status` decides it ----------------------------------------------------------


@dataclass(frozen=True)
class WorkloadStatus:
    """Whether a workload is ready, its `ready/desired` count, and what it still waits for."""

    ready: bool
    summary: str
    detail: str = ""


def workload_status(obj: Mapping[str, Any]) -> WorkloadStatus:
    """The rollout state of a Deployment or StatefulSet read from the API."""
    spec, status, meta = (_mapping(obj.get(key)) for key in ("spec", "status", "metadata"))
    desired = _count(spec, "replicas", default=1)
    summary = f"{_count(status, 'readyReplicas')}/{desired} ready"
    if obj.get("kind") == "StatefulSet":
        detail = _statefulset_waits_for(spec, status, meta, desired)
    else:
        detail = _deployment_waits_for(status, meta, desired)
    return WorkloadStatus(ready=not detail, summary=summary, detail=detail)


def _deployment_waits_for(status: Mapping[str, Any], meta: Mapping[str, Any], desired: int) -> str:
    if _count(status, "observedGeneration") < _count(meta, "generation"):
        return "waiting for the deployment controller to see the latest spec"
    for condition in status.get("conditions") or []:
        if _mapping(condition).get("reason") == "ProgressDeadlineExceeded":
            return "it exceeded its progress deadline"
    updated, available, total = (_count(status, k) for k in ("updatedReplicas", "availableReplicas", "replicas"))
    if updated < desired:
        return f"{updated} of {desired} new replicas updated"
    if total > updated:
        return f"{total - updated} old replicas pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return ""


def _statefulset_waits_for(
    spec: Mapping[str, Any], status: Mapping[str, Any], meta: Mapping[str, Any], desired: int
) -> str:
    observed = _count(status, "observedGeneration")
    if observed == 0 or observed < _count(meta, "generation"):
        return "waiting for the statefulset controller to see the latest spec"
    ready, updated = _count(status, "readyReplicas"), _count(status, "updatedReplicas")
    if ready < desired:
        return f"{ready} of {desired} pods ready"
    strategy = _mapping(spec.get("updateStrategy"))
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return ""
    partition = _count(_mapping(strategy.get("rollingUpdate")), "partition")
    if partition > 0:
        return f"{updated} of {desired - partition} pods updated" if updated < desired - partition else ""
    if status.get("updateRevision") != status.get("currentRevision"):
        return f"{updated} of {desired} pods at the new revision"
    return ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(mapping: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = mapping.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# -- Git credentials -------------------------------------------------------------------------------------------


def git_credentials(
    agent: Agent,
    kubeconfig: Path,
    *,
    git_url: str,
    username: str,
    password: str,
    namespace: str | None = None,
    name: str | None = None,
) -> str:
    """Apply the Secret an agent reads to log in to the lab's Git server; returns the Secret's name.

    Flux: a Secret with `username` and `password` in the GitRepository's namespace (default flux-system), for its
    `spec.secretRef.name`. Argo CD: a repository Secret for `git_url` in Argo CD's namespace (default argocd).
    Applied server-side, so running it again updates the Secret instead of failing.
    """
    secret = credentials_secret(
        agent, git_url=git_url, username=username, password=password, namespace=namespace, name=name
    )
    kubectl = kubectl_for(kubeconfig)
    meta = secret["metadata"]
    ensure_namespace(kubectl, meta["namespace"], progress=lambda _line: None, who=agent)
    apply = ("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-")
    kubectl.check(*apply, input=json.dumps(secret))
    return str(meta["name"])


def credentials_secret(
    agent: Agent,
    *,
    git_url: str,
    username: str,
    password: str,
    namespace: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The Secret `git_credentials` applies, as a dict."""
    if agent not in ("flux", "argocd"):
        raise DriftlabError(f"unknown GitOps agent {agent!r}: use 'flux' or 'argocd'")
    _check_login(git_url, username, password)
    namespace = _dns_label(namespace or pinned_release(agent).namespace, "namespace")
    name = _dns_label(name or default_secret_name(git_url), "Secret name")
    labels = dict(MANAGED_BY)
    data = {"username": username, "password": password}
    if agent == "argocd":
        labels[ARGOCD_SECRET_TYPE] = "repository"
        data = {"type": "git", "url": git_url, **data}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def default_secret_name(git_url: str) -> str:
    """`driftlab-git-<repo>`, from the last part of the repository URL."""
    last = urlsplit(git_url).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    slug = re.sub(r"[^a-z0-9-]+", "-", last.lower()).strip("-")[:50].strip("-")
    return f"driftlab-git-{slug}" if slug else "driftlab-git"


def _check_login(git_url: str, username: str, password: str) -> None:
    try:
        parts = urlsplit(git_url) if isinstance(git_url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise DriftlabError(f"git_url {git_url!r} is not an http(s) URL: agents log in to the Git server over HTTP")
    for field, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value or not value.isprintable():
            raise DriftlabError(f"the Git {field} must be a non-empty string of printable characters")


def _dns_label(value: str, what: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise DriftlabError(
            f"invalid {what} {value!r}: use lowercase letters, digits and '-', starting and ending with a letter "
            "or digit (at most 63 characters)"
        )
    return value
