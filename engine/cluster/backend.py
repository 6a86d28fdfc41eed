"""The one cluster interface every backend implements, which backend a lab gets, and how a backend is remembered.

Three backends stand behind `ClusterBackend`: `embedded` (driftlab's own API server, no Docker), `kind` (a
real cluster in containers) and `existing` (a context of any kubeconfig, such as a shared workshop cluster).
A backend keeps its local state under `paths.cluster_dir(name)` like the embedded one does; a backend other
than the embedded one also writes `backend.json` there, so `status`, `down` and `kubeconfig` find it again
without being told.

`choose_backend` decides for a lab: an explicit `--backend` must be one the lab allows (lab.yaml `backend:`);
`DRIFTLAB_BACKEND` is a default that gives way to the lab; without either, a lab that can run anywhere gets
kind where a container runtime answers and kind is installed, the embedded cluster elsewhere. Asking for kind
where it cannot run fails at once with the doctor's advice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .. import paths
from ..errors import DriftlabError

EMBEDDED, KIND, EXISTING = "embedded", "kind", "existing"
BACKENDS = (EMBEDDED, KIND, EXISTING)
BACKEND_ENV = "DRIFTLAB_BACKEND"
RECORD_FILE = "backend.json"
# What each value of lab.yaml's `backend:` allows: an embedded-only lab relies on simulated images, a kind lab
# on real containers (which an existing cluster has too).
ALLOWED = {EMBEDDED: (EMBEDDED,), KIND: (KIND, EXISTING), "any": BACKENDS}

Progress = Callable[[str], None]


def quiet(_line: str) -> None:
    """The progress sink of an `up` nobody watches."""


@dataclass(frozen=True)
class ClusterStatus:
    """Whether a cluster's API answers, and where. `pid` is the embedded daemon's (None on other backends)."""

    name: str
    running: bool
    pid: int | None
    server: str | None
    state_dir: Path
    backend: str = EMBEDDED


@runtime_checkable
class ClusterBackend(Protocol):
    """A cluster a lab (or `driftlab cluster`) runs on.

    `backend` names the kind of backend; `embedded_agents` tells whether the lab's daemon hosts driftlab's own
    Flux and Argo CD controllers against it (the embedded cluster) or the real agents must be installed into it.
    """

    name: str
    backend: str
    embedded_agents: bool

    @property
    def state_dir(self) -> Path: ...

    def exists(self) -> bool: ...

    def status(self) -> ClusterStatus: ...

    def up(self, progress: Progress | None = None) -> ClusterStatus: ...

    def down(self, purge: bool = False) -> bool: ...

    def kubeconfig(self, namespace: str | None = None) -> str: ...

    def agent_git_host(self) -> str | None:
        """The address in-cluster GitOps agents reach the host's Git server at (None: they cannot)."""
        ...


# Which backend ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindSupport:
    """Whether kind can create clusters here, and what was found (said to the learner)."""

    ready: bool
    detail: str


@dataclass(frozen=True)
class BackendChoice:
    """The backend chosen and the line said about it at lab start; `obvious` when there was nothing to choose
    (an embedded-only lab, a cluster made earlier), so nothing needs saying."""

    name: str
    reason: str
    obvious: bool = False

    @property
    def message(self) -> str:
        return f"backend: {self.name} ({self.reason})"


def kind_support(env: Mapping[str, str] | None = None) -> KindSupport:
    """Look for kind and ask the container runtime, deciding as `driftlab doctor` does. Without kind the
    runtime is not asked: asking a daemon that is down costs a lab start a few hundred milliseconds."""
    from .kind import find_kind
    from .runtime import default_backend, detect_runtime

    kind = find_kind(env)
    if kind is None:
        return KindSupport(False, "kind is not installed")
    backend, why = default_backend(detect_runtime(env), kind)
    return KindSupport(backend == KIND, why)


def kind_unavailable_message() -> str:
    """The doctor's advice for a machine where kind cannot run."""
    from ..doctor import kind_unavailable_message as advice

    return advice()


def check_backend(name: str, where: str = "--backend") -> str:
    if name not in BACKENDS:
        raise DriftlabError(f"unknown backend {name!r} in {where}: use one of {', '.join(BACKENDS)}")
    return name


def choose_backend(
    lab_backend: str = "any",
    flag: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    support: Callable[[Mapping[str, str]], KindSupport] = kind_support,
    unavailable: Callable[[], str] = kind_unavailable_message,
) -> BackendChoice:
    """The backend a lab runs on: the `--backend` flag, else DRIFTLAB_BACKEND, else what the machine offers,
    always within what lab.yaml's `backend:` allows. Kind without a runtime fails fast with the doctor's advice."""
    environ = dict(os.environ if env is None else env)
    allowed = ALLOWED.get(lab_backend)
    if allowed is None:
        raise DriftlabError(f"unknown lab backend {lab_backend!r}: lab.yaml says embedded, kind or any")
    choice = _explicit(lab_backend, allowed, flag, environ.get(BACKEND_ENV, "").strip())
    if choice is not None or lab_backend != "any":
        choice = choice or _required(lab_backend)
        if choice.name != KIND:
            return choice
        found = support(environ)
        if not found.ready:
            raise DriftlabError(f"{unavailable()}\n({choice.reason}; {found.detail})")
        return BackendChoice(KIND, f"{choice.reason}; {found.detail}")
    found = support(environ)
    if found.ready:
        return BackendChoice(KIND, f"{found.detail}; --backend embedded runs without Docker")
    return BackendChoice(EMBEDDED, f"{found.detail}; the embedded cluster needs no Docker")


def _explicit(lab_backend: str, allowed: Sequence[str], flag: str | None, from_env: str) -> BackendChoice | None:
    if flag:
        check_backend(flag)
        if flag not in allowed:
            raise DriftlabError(_not_allowed(lab_backend, flag))
        return BackendChoice(flag, f"--backend {flag}")
    if from_env:
        check_backend(from_env, BACKEND_ENV)
        if from_env in allowed:
            return BackendChoice(from_env, f"{BACKEND_ENV}={from_env}")
        return BackendChoice(
            allowed[0], f"the lab runs only on {_listing(allowed)}; {BACKEND_ENV}={from_env} is ignored"
        )
    return None


def _required(lab_backend: str) -> BackendChoice:
    if lab_backend == EMBEDDED:
        return BackendChoice(EMBEDDED, "the lab runs only on the embedded cluster", obvious=True)
    return BackendChoice(KIND, "the lab needs a real cluster")


def _not_allowed(lab_backend: str, wanted: str) -> str:
    allowed = ALLOWED[lab_backend]
    why = {
        EMBEDDED: "its images exist only in the embedded cluster's image catalogue",
        KIND: "it needs real containers",
    }.get(lab_backend, "")
    return f"the lab runs only on {_listing(allowed)} ({why}), not on the {wanted} backend; use --backend {allowed[0]}"


def _listing(allowed: Sequence[str]) -> str:
    names = [f"the {name} backend" for name in allowed]
    return " or ".join(names)


# Which cluster --------------------------------------------------------------------------------------------------


def read_record(name: str) -> dict[str, Any]:
    """What a non-embedded backend recorded about cluster `name` (empty when nothing was)."""
    path = paths.clusters_dir() / paths.check_name(name) / RECORD_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(state_dir: Path, record: Mapping[str, Any]) -> None:
    paths.write_private(state_dir / RECORD_FILE, json.dumps(dict(record), indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (kubeconfigs carry credentials), atomically."""
    paths.write_private(path, text)


def recorded_backend(name: str) -> str | None:
    """The backend cluster `name` was made with: recorded, else embedded when its state folder exists."""
    backend = read_record(name).get("backend")
    if isinstance(backend, str) and backend in BACKENDS:
        return backend
    return EMBEDDED if (paths.clusters_dir() / name).is_dir() else None


@dataclass(frozen=True)
class BackendOptions:
    """What a backend needs besides the cluster's name: NodePorts and node image for kind; the kubeconfig,
    context and learner for an existing cluster."""

    node_ports: tuple[int, ...] = ()
    image: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    learner: str | None = None


def make_cluster(name: str, backend: str, options: BackendOptions | None = None) -> ClusterBackend:
    """The cluster `name` on `backend` (nothing is started)."""
    options = options or BackendOptions()
    if check_backend(backend) == KIND:
        from .kind_backend import KindCluster

        return KindCluster(name, node_ports=options.node_ports, image=options.image)
    if backend == EXISTING:
        from .existing import ExistingCluster

        return ExistingCluster(name, kubeconfig=options.kubeconfig, context=options.context, learner=options.learner)
    from .embedded.backend import EmbeddedCluster

    return EmbeddedCluster(name)


def open_cluster(name: str, backend: str | None = None, options: BackendOptions | None = None) -> ClusterBackend:
    """Cluster `name` on the backend it was made with; `backend`, when given, must be that one (or the cluster
    must not exist yet). A cluster never made is embedded unless `backend` says otherwise."""
    recorded = recorded_backend(name)
    if backend is not None and recorded is not None and backend != recorded and _made(name, recorded):
        raise DriftlabError(
            f"cluster {name!r} runs on the {recorded} backend, not {backend}; remove it first with "
            f"`driftlab cluster down --name {name} --purge` (a lab: `driftlab lab down COURSE --purge`)"
        )
    return make_cluster(name, backend or recorded or EMBEDDED, options)


def _made(name: str, backend: str) -> bool:
    """Whether cluster `name` holds anything on `backend` (an embedded state folder may be only a leftover)."""
    if backend != EMBEDDED:
        return True
    folder = paths.clusters_dir() / name
    return any(child.name != RECORD_FILE for child in folder.iterdir()) if folder.is_dir() else False
