"""The existing backend: a context of any kubeconfig, such as a workshop's shared cluster.

Many learners share one cluster, so each learner's lab lives in namespaces of its own: every namespace a lab
names is prefixed with the learner's name (`shop` becomes `ada-shop`; the kube-* system namespaces are read
as they are). The lab creates those namespaces labelled with the learner and the lab, and only ever seeds,
resets or deletes namespaces that carry both labels: a namespace that exists without them (another
learner's, another lab's, or the workshop's own) is refused with `ForeignNamespace`.

The kubeconfig the lab writes holds only the chosen context (its cluster and user, with relative file paths
made absolute), defaulting to the learner's prefixed course namespace, so `kubectl get pods` lands in the
learner's own namespace. Nothing runs locally: `down` leaves the cluster alone, and `down --purge` deletes
the learner's namespaces of that lab.

The learner's name comes from `--learner`, else DRIFTLAB_LEARNER, else the user's login name.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .. import paths, proc
from ..errors import DriftlabError
from .backend import EXISTING, ClusterStatus, Progress, read_record, write_private, write_record

LEARNER_ENV = "DRIFTLAB_LEARNER"
KUBECONFIG_FILE = "existing.kubeconfig"
LEARNER_LABEL = "driftlab.dev/learner"
LAB_LABEL = "driftlab.dev/lab"
MANAGED_BY = ("app.kubernetes.io/managed-by", "driftlab")
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
LEARNER_MAX = 30
PROBE_TIMEOUT = 10.0
_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ForeignNamespace(DriftlabError):
    """A namespace the lab would touch exists and does not belong to this learner's lab."""


# The learner and their namespaces ----------------------------------------------------------------------------


def learner_name(given: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The learner's name as a namespace prefix: `--learner`, else DRIFTLAB_LEARNER, else the login name."""
    environ = os.environ if env is None else env
    raw = given or environ.get(LEARNER_ENV, "").strip() or _login()
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    if not name or len(name) > LEARNER_MAX:
        raise DriftlabError(
            f"cannot make a namespace prefix of the learner name {raw!r}: give --learner NAME (or set "
            f"{LEARNER_ENV}) with 1 to {LEARNER_MAX} lowercase letters, digits or '-'"
        )
    return name


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def prefixed(learner: str, namespace: str) -> str:
    """The learner's own namespace for one the course names (system namespaces are shared, read-only ones)."""
    if namespace in SYSTEM_NAMESPACES:
        return namespace
    mapped = f"{learner}-{namespace}"
    if not _DNS_LABEL.match(mapped):
        raise DriftlabError(
            f"namespace {namespace!r} of learner {learner!r} would be {mapped!r}, which is not a valid namespace "
            f"name (at most 63 characters): choose a shorter --learner"
        )
    return mapped


def unprefixed(learner: str, namespace: str) -> str:
    """The course's name for one of the learner's namespaces (others are returned unchanged)."""
    prefix = f"{learner}-"
    return namespace[len(prefix) :] if namespace.startswith(prefix) else namespace


def owner_labels(learner: str, lab: str) -> dict[str, str]:
    return {LEARNER_LABEL: learner, LAB_LABEL: lab, MANAGED_BY[0]: MANAGED_BY[1]}


class NamespaceOwner:
    """Creates, checks and deletes the namespaces of one learner's lab, through `client` (a KubeClient)."""

    def __init__(self, client: Any, learner: str, lab: str) -> None:
        self.client = client
        self.learner = learner
        self.lab = lab

    @property
    def labels(self) -> dict[str, str]:
        return owner_labels(self.learner, self.lab)

    def _resource(self) -> Any:
        return self.client.resolve("Namespace", "v1")

    def owns(self, namespace: Mapping[str, Any]) -> bool:
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        return labels.get(LEARNER_LABEL) == self.learner and labels.get(LAB_LABEL) == self.lab

    def refusal(self, name: str, found: Mapping[str, Any]) -> ForeignNamespace:
        labels = (found.get("metadata") or {}).get("labels") or {}
        owner = labels.get(LEARNER_LABEL)
        if owner and owner != self.learner:
            whose = f"it belongs to learner {owner!r}"
        elif owner:
            whose = f"it belongs to your lab {labels.get(LAB_LABEL)!r}; stop that one with `driftlab lab down --purge`"
        else:
            whose = "driftlab did not create it"
        return ForeignNamespace(
            f"namespace {name!r} exists and is not this lab's ({whose}); driftlab only creates, resets and deletes "
            f"namespaces labelled {LEARNER_LABEL}={self.learner},{LAB_LABEL}={self.lab}. "
            "Pick another learner name with --learner, or ask the cluster's administrator"
        )

    def claim(self, names: Iterable[str]) -> list[str]:
        """Create the namespaces that are missing (labelled as this lab's); refuse any that exist unlabelled."""
        resource = self._resource()
        created = []
        for name in dict.fromkeys(names):
            found = self.client.get(resource, name)
            if found is not None:
                if not self.owns(found):
                    raise self.refusal(name, found)
                continue
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": self.labels}}
            self.client.create(body, field_manager="driftlab")
            created.append(name)
        return created

    def require_owned(self, names: Iterable[str]) -> list[str]:
        """The namespaces among `names` that exist (all of them this lab's); a foreign one is refused."""
        resource = self._resource()
        existing = []
        for name in dict.fromkeys(names):
            found = self.client.get(resource, name)
            if found is None:
                continue
            if not self.owns(found):
                raise self.refusal(name, found)
            existing.append(name)
        return existing

    def owned(self) -> list[str]:
        """Every namespace of this learner's lab, found by its labels."""
        selector = f"{LEARNER_LABEL}={self.learner},{LAB_LABEL}={self.lab}"
        items, _ = self.client.list(self._resource(), label_selector=selector)
        return sorted(str(item["metadata"]["name"]) for item in items if isinstance(item.get("metadata"), dict))

    def release(self, names: Iterable[str] | None = None) -> list[str]:
        """Delete the lab's namespaces (all of them, or those named that exist); returns what was deleted."""
        targets = self.owned() if names is None else self.require_owned(names)
        resource = self._resource()
        return [name for name in targets if self.client.delete(resource, name)]


# Kubeconfig --------------------------------------------------------------------------------------------------


def kubeconfig_files(given: str | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    """The kubeconfig files kubectl would read: `given`, else $KUBECONFIG's list, else ~/.kube/config."""
    environ = os.environ if env is None else env
    listed = given or environ.get("KUBECONFIG", "")
    files = [Path(part).expanduser() for part in listed.split(os.pathsep) if part] if listed else []
    return files or [Path.home() / ".kube" / "config"]


def _load(path: Path) -> dict[str, Any]:
    """One kubeconfig file as a mapping ({} when missing, as kubectl skips missing files of KUBECONFIG)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise DriftlabError(f"cannot read kubeconfig {path}: it is a folder, not a file") from None
    except OSError as error:
        raise DriftlabError(f"cannot read kubeconfig {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise DriftlabError(f"cannot read kubeconfig {path}: not UTF-8 text (byte {error.start})") from None
    except yaml.YAMLError as error:
        raise DriftlabError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise DriftlabError(f"kubeconfig {path} is not a YAML mapping")
    for plural in ("clusters", "users", "contexts"):
        if document.get(plural) is not None and not isinstance(document[plural], list):
            raise DriftlabError(f"kubeconfig {path}: {plural} must be a list of named entries")
    return document


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's complaint on one line, with its line and column."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or " ".join(str(error).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def _absolute(entry: dict[str, Any], section: str, folder: Path) -> dict[str, Any]:
    """A cluster or user entry with its file references made absolute (they are relative to their file)."""
    found = entry.get(section)
    body = dict(found) if isinstance(found, dict) else {}
    for field in _FILE_FIELDS[section]:
        value = body.get(field)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            body[field] = str((folder / value).resolve())
    return {"name": entry.get("name"), section: body}


def merged_kubeconfig(files: Iterable[Path]) -> dict[str, Any]:
    """The kubeconfig kubectl sees from several files: the first file that names an entry or sets
    current-context wins, as kubectl merges them. `files` lists where it came from, for error messages."""
    files = list(files)
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None}
    sections = {"clusters": "cluster", "users": "user", "contexts": "context"}
    seen = False
    for path in files:
        document = _load(path)
        seen = seen or bool(document)
        for plural, section in sections.items():
            for entry in document.get(plural) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    continue
                if entry["name"] not in merged[plural]:
                    fixed = _absolute(entry, section, path.parent) if section != "context" else entry
                    merged[plural][entry["name"]] = fixed
        if merged["current-context"] is None and document.get("current-context"):
            merged["current-context"] = str(document["current-context"])
    where = ", ".join(str(p) for p in files)
    if not seen:
        raise DriftlabError(f"no kubeconfig at {where}: pass --kubeconfig FILE or set KUBECONFIG")
    merged["files"] = where
    return merged


def standalone_kubeconfig(merged: Mapping[str, Any], context: str | None, namespace: str = "default") -> str:
    """A kubeconfig holding only `context` (the current one when None), defaulting to `namespace`."""
    name = context or merged.get("current-context")
    contexts = merged.get("contexts") or {}
    source = f"kubeconfig {merged['files']}" if merged.get("files") else "the kubeconfig"
    if not name:
        raise DriftlabError(f"{source} has no current context: name one with --context")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise DriftlabError(f"{source} has no context {name!r} (it has: {known})")
    found = contexts[name].get("context")
    if not isinstance(found, dict):
        raise DriftlabError(f"{source}: context {name!r} is empty; it needs a cluster (and a user)")
    body = dict(found)
    cluster = (merged.get("clusters") or {}).get(body.get("cluster"))
    if cluster is None:
        raise DriftlabError(f"{source}: context {name!r} names cluster {body.get('cluster')!r}, which it lacks")
    user = (merged.get("users") or {}).get(body.get("user"))
    if body.get("user") and user is None:
        raise DriftlabError(f"{source}: context {name!r} names user {body.get('user')!r}, which it lacks")
    problem = _server_problem(cluster["cluster"].get("server"))
    if problem is not None:
        raise DriftlabError(f"{source}: cluster {body.get('cluster')!r} of context {name!r} {problem}")
    body["namespace"] = namespace
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [cluster],
        "users": [user] if user is not None else [],
        "contexts": [{"name": name, "context": body}],
        "current-context": name,
    }
    return yaml.safe_dump(document, sort_keys=False)


def _server_problem(server: Any) -> str | None:
    """Why a cluster's server cannot be an API server URL (https://host[:port]), or None."""
    if not isinstance(server, str) or not server:
        return "has no server URL"
    parsed = urlsplit(server)
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"has a server URL with a bad port: {server!r}"
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"has a server that is not a URL such as https://host:6443: {server!r}"
    return None


def api_answers(kubeconfig: Path) -> bool:
    """Whether the API server answers `kubectl get --raw /version` with the kubeconfig's credentials."""
    command = [proc.tool("kubectl"), "--kubeconfig", str(kubeconfig), "get", "--raw", "/version"]
    try:
        return proc.run(command, timeout=PROBE_TIMEOUT).ok
    except (OSError, subprocess.TimeoutExpired):
        return False


# The backend -------------------------------------------------------------------------------------------------


class ExistingCluster:
    """Driftlab cluster `name` as a context of an existing kubeconfig, for one learner.

    `kubeconfig` (a path, or a list as in KUBECONFIG), `context` and `learner` default to what was recorded by
    the last `up`, else to KUBECONFIG's current context and the learner's login name.
    """

    backend = EXISTING
    embedded_agents = False

    def __init__(
        self,
        name: str,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        learner: str | None = None,
        env: Mapping[str, str] | None = None,
        probe: Any = api_answers,
    ) -> None:
        self.name = paths.check_name(name)
        recorded = self.record()
        self.env = dict(os.environ if env is None else env)
        self.source = kubeconfig or recorded.get("kubeconfig") or None
        self.context = context or recorded.get("context") or None
        self.learner = learner_name(learner or recorded.get("learner"), self.env)
        self._recorded_learner = recorded.get("learner")
        self.probe = probe

    @property
    def state_dir(self) -> Path:
        return paths.clusters_dir() / self.name

    @property
    def kubeconfig_file(self) -> Path:
        """The standalone kubeconfig written by `up` (default namespace `default`'s prefixed form)."""
        return self.state_dir / KUBECONFIG_FILE

    def record(self) -> dict[str, Any]:
        data = read_record(self.name)
        return data if data.get("backend") == EXISTING else {}

    def namespace(self, name: str) -> str:
        """The learner's namespace for one the course names."""
        return prefixed(self.learner, name)

    def owner(self, client: Any) -> NamespaceOwner:
        return NamespaceOwner(client, self.learner, self.name)

    # Interface ---------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self.record())

    def status(self) -> ClusterStatus:
        if not self.exists() or not self.kubeconfig_file.is_file():
            return ClusterStatus(self.name, False, None, None, self.state_dir, EXISTING)
        from .kind_backend import server_of

        server = server_of(self.kubeconfig_file.read_text())
        running = server is not None and bool(self.probe(self.kubeconfig_file))
        return ClusterStatus(self.name, running, None, server, self.state_dir, EXISTING)

    def up(self, progress: Progress | None = None) -> ClusterStatus:
        """Record the context and learner and write the lab's kubeconfig; returns once the API answers."""
        if self._recorded_learner and self._recorded_learner != self.learner:
            raise DriftlabError(
                f"{self.name!r} was set up for learner {self._recorded_learner!r}, not {self.learner!r}; remove it "
                f"first (`driftlab lab down COURSE --purge` deletes that learner's namespaces) or keep that name"
            )
        merged = merged_kubeconfig(kubeconfig_files(self.source, self.env))
        context = self.context or merged.get("current-context")
        text = standalone_kubeconfig(merged, context, self.namespace("default"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.kubeconfig_file, text)
        write_record(
            self.state_dir,
            {"backend": EXISTING, "kubeconfig": self.source, "context": context, "learner": self.learner},
        )
        self.context = context
        status = self.status()
        if not status.running:
            raise DriftlabError(
                f"the cluster of context {context!r} does not answer at {status.server}: check the context with "
                f"`kubectl --context {context} get --raw /version`"
            )
        return status

    def down(self, purge: bool = False) -> bool:
        """Leave the shared cluster running; with purge, delete this learner's namespaces of this lab and the
        local state. Always False: nothing was stopped."""
        if not self.exists():
            return False
        if purge:
            if self.kubeconfig_file.is_file():
                from .client import KubeClient

                client = KubeClient(self.kubeconfig_file)
                try:
                    self.owner(client).release()
                finally:
                    client.close()
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return False

    def kubeconfig(self, namespace: str | None = None) -> str:
        """The chosen context alone, defaulting to the learner's form of `namespace` (of `default` when None)."""
        if not self.exists():
            raise DriftlabError(
                f"there is no cluster named {self.name!r}; connect it with: "
                f"driftlab cluster up --name {self.name} --backend existing --context CONTEXT"
            )
        merged = merged_kubeconfig(kubeconfig_files(self.source, self.env))
        return standalone_kubeconfig(merged, self.context, self.namespace(namespace or "default"))

    def agent_git_host(self) -> None:
        """Agents inside a shared cluster cannot reach a Git server on the learner's machine."""
        return None
