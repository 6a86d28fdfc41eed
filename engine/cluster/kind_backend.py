"""The kind backend: one kind cluster per driftlab cluster, `driftlab-<name>` (a lab's `lab-` prefix dropped).

The kind config comes from the lab's NodePorts: each is mapped to the same port on 127.0.0.1, so `curl
localhost:PORT` reaches a NodePort Service as it does on the embedded backend (mappings are fixed when the
cluster is made: a NodePort the lab did not declare is not reachable from the host). kind writes its
kubeconfig into the cluster's state folder, never into ~/.kube/config, and `backend.json` there records what
was made, so `status`, `down` and `kubeconfig` work without being told the backend again.

kind cannot stop a cluster, so `down` stops its node container with the container runtime and `up` starts it
again (objects survive, as on the embedded backend); `down --purge` deletes the kind cluster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import paths, proc
from ..errors import DriftlabError
from .backend import (
    KIND,
    ClusterStatus,
    Progress,
    kind_unavailable_message,
    quiet,
    read_record,
    write_private,
    write_record,
)

if TYPE_CHECKING:
    from .kind import Kind
    from .runtime import Runtime

KIND_PREFIX = "driftlab-"
KIND_NAME_MAX = 50
KUBECONFIG_FILE = "kind.kubeconfig"
NETWORK_ENV = "KIND_EXPERIMENTAL_DOCKER_NETWORK"
DEFAULT_NETWORK = "kind"
WAIT = "60s"
# The record key naming the lab images last loaded into the node (the runner image's tag).
LOADED_KEY = "lab_images"
START_TIMEOUT = 90.0
PROBE_TIMEOUT = 5.0
POLL_INTERVAL = 1.0

Probe = Callable[[Path], bool]


def kind_cluster_name(name: str) -> str:
    """The kind cluster of driftlab cluster `name`: `driftlab-<name>` without a lab's `lab-`, short enough for
    kind (long names keep a hash of the whole so two never meet)."""
    base = KIND_PREFIX + paths.check_name(name).removeprefix("lab-")
    if len(base) <= KIND_NAME_MAX:
        return base
    digest = hashlib.sha1(name.encode()).hexdigest()[:6]
    return f"{base[: KIND_NAME_MAX - 7].rstrip('-')}-{digest}"


def api_answers(kubeconfig: Path) -> bool:
    """Whether the API server of a kubeconfig says it is ready, asked through the real kubectl."""
    command = [proc.tool("kubectl"), "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"]
    try:
        return proc.run(command, timeout=PROBE_TIMEOUT + 2).ok
    except (OSError, subprocess.TimeoutExpired):
        return False


def with_namespace(text: str, namespace: str | None) -> str:
    """A kubeconfig whose current context defaults to `namespace` (unchanged when None)."""
    if not namespace:
        return text
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DriftlabError(f"kind printed a kubeconfig that is not YAML: {error}") from None
    if not isinstance(document, dict):
        raise DriftlabError("kind printed a kubeconfig that is not a YAML mapping")
    current = document.get("current-context")
    for entry in document.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == current and isinstance(entry.get("context"), dict):
            entry["context"]["namespace"] = namespace
    return yaml.safe_dump(document, sort_keys=False)


def server_of(text: str) -> str | None:
    """The API server URL of a kubeconfig's current context."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None
    contexts = {c.get("name"): c.get("context") for c in document.get("contexts") or [] if isinstance(c, dict)}
    context = contexts.get(document.get("current-context"))
    cluster_name = context.get("cluster") if isinstance(context, dict) else None
    for entry in document.get("clusters") or []:
        if isinstance(entry, dict) and entry.get("name") == cluster_name and isinstance(entry.get("cluster"), dict):
            server = entry["cluster"].get("server")
            return server if isinstance(server, str) else None
    return None


class KindCluster:
    """Driftlab cluster `name` as a kind cluster. `kind`, `runtime` and `probe` are found when not given."""

    backend = KIND
    embedded_agents = False

    def __init__(
        self,
        name: str,
        *,
        node_ports: Sequence[int] = (),
        image: str | None = None,
        kind: Kind | None = None,
        runtime: Runtime | None = None,
        probe: Probe = api_answers,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.name = paths.check_name(name)
        self.kind_name = kind_cluster_name(name)
        self.node_ports = tuple(sorted({int(port) for port in node_ports}))
        self.image = image
        self._kind = kind
        self._runtime = runtime
        self.probe = probe
        self.start_timeout = start_timeout

    # Parts -------------------------------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return paths.clusters_dir() / self.name

    @property
    def kubeconfig_file(self) -> Path:
        return self.state_dir / KUBECONFIG_FILE

    @property
    def tool(self) -> Kind:
        if self._kind is None:
            from .kind import Kind

            self._kind = Kind()
        return self._kind

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from .runtime import detect_runtime

            self._runtime = detect_runtime()
        return self._runtime

    @property
    def node_container(self) -> str:
        """kind names the only node of a one-node cluster `<cluster>-control-plane`."""
        return f"{self.kind_name}-control-plane"

    def record(self) -> dict[str, Any]:
        data = read_record(self.name)
        return data if data.get("backend") == KIND else {}

    # Interface ---------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self.record())

    def status(self) -> ClusterStatus:
        if not self.exists() or not self.kubeconfig_file.is_file():
            return ClusterStatus(self.name, False, None, None, self.state_dir, KIND)
        server = server_of(self.kubeconfig_file.read_text())
        running = server is not None and self.probe(self.kubeconfig_file)
        return ClusterStatus(self.name, running, None, server, self.state_dir, KIND)

    def up(self, progress: Progress | None = None) -> ClusterStatus:
        """Make (or start again) the kind cluster; returns once its API answers."""
        tell = progress or quiet
        self._require_runtime()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        mapped, loaded = self.node_ports, None
        if self.kind_name in self.tool.clusters():
            recorded = self.record()
            mapped, loaded = tuple(recorded.get("node_ports") or ()), recorded.get(LOADED_KEY)
            self._warn_stale_ports(tell)
            if not self.status().running:
                self._start_node(tell)
        else:
            from .kind import kind_config

            tell(f"creating kind cluster {self.kind_name} (the first one pulls kind's node image: a minute or more)")
            config = kind_config(self.kind_name, self.node_ports, image=self.image)
            self.tool.create(self.kind_name, config=config, wait=WAIT, kubeconfig=self.kubeconfig_file, progress=tell)
        write_private(self.kubeconfig_file, self.tool.kubeconfig(self.kind_name))
        write_record(
            self.state_dir,
            {
                "backend": KIND,
                "kind_name": self.kind_name,
                "node_ports": list(mapped),
                "image": self.image,
                LOADED_KEY: loaded,
            },
        )
        status = self.status()
        if not status.running:
            raise DriftlabError(
                f"the kind cluster {self.kind_name} was made but its API does not answer; see "
                f"`kind export logs --name {self.kind_name}`, or make it again: "
                f"driftlab cluster down --name {self.name} --purge"
            )
        return status

    def down(self, purge: bool = False) -> bool:
        """Stop the node container (with purge, delete the kind cluster and the state folder); True if it ran."""
        if not self.exists():
            return False
        was_running = self.status().running
        if purge:
            self.tool.delete(self.kind_name)
            shutil.rmtree(self.state_dir, ignore_errors=True)
        elif was_running:
            self._container("stop", timeout=60)
        return was_running

    def kubeconfig(self, namespace: str | None = None) -> str:
        """kind's own kubeconfig of the cluster (context `kind-<kind name>`), defaulting to `namespace`."""
        if not self.exists():
            raise DriftlabError(
                f"there is no kind cluster for {self.name!r}; create it with: "
                f"driftlab cluster up --name {self.name} --backend kind"
            )
        if self.kubeconfig_file.is_file():
            text = self.kubeconfig_file.read_text()
        else:
            text = self.tool.kubeconfig(self.kind_name)
        return with_namespace(text, namespace)

    def load_images(self, catalogue: Path, progress: Progress | None = None) -> list[str]:
        """Build the lab's own images (its catalogue's ghcr.io/driftlab/... tags) and load them into the node;
        skipped when the same images were loaded into this node before. Returns the references loaded."""
        from .images.build import ImageBuilder, own_images

        tell = progress or quiet
        images = own_images(catalogue)
        if not images:
            return []
        if self.runtime.binary is None:
            raise DriftlabError(kind_unavailable_message())
        builder = ImageBuilder(self.runtime.binary, self.state_dir / "images", tell)
        key = builder.fingerprint(catalogue)
        if self.record().get(LOADED_KEY) == key:
            return []
        references = builder.build_lab(key, images)
        tell(f"loading {len(references)} lab images into {self.node_container}")
        self.tool.load_image(self.kind_name, references)
        write_record(self.state_dir, {**self.record(), LOADED_KEY: key})
        return references

    def agent_git_host(self) -> str:
        """The kind network's gateway: the host as pods see it (a server on 127.0.0.1 is out of their reach)."""
        from .runtime import network_gateway

        return network_gateway(self.runtime, os.environ.get(NETWORK_ENV) or DEFAULT_NETWORK)

    # Internals ---------------------------------------------------------------------------------------------

    def _require_runtime(self) -> None:
        if not self.runtime.answers:
            raise DriftlabError(kind_unavailable_message())

    def _warn_stale_ports(self, tell: Progress) -> None:
        made = set(self.record().get("node_ports") or [])
        missing = sorted(set(self.node_ports) - made)
        if missing:
            tell(
                f"the kind cluster {self.kind_name} was made without host ports for NodePorts "
                f"{', '.join(map(str, missing))}; to reach them on localhost, make it again: "
                f"driftlab cluster down --name {self.name} --purge"
            )

    def _start_node(self, tell: Progress) -> None:
        tell(f"starting the node container {self.node_container}")
        self._container("start", timeout=60)
        deadline = time.monotonic() + self.start_timeout
        while not self.probe(self.kubeconfig_file):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriftlabError(
                    f"the kind cluster {self.kind_name} did not answer within {self.start_timeout:g}s of starting "
                    f"its node; see `{self.runtime.name} logs {self.node_container}`"
                )
            time.sleep(min(POLL_INTERVAL, remaining))

    def _container(self, verb: str, timeout: float) -> None:
        binary = self.runtime.binary or self.runtime.name
        try:
            result = proc.run([binary, verb, self.node_container], timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriftlabError(f"`{binary} {verb} {self.node_container}` did not finish within {timeout:g}s") from None
        except OSError as error:
            raise DriftlabError(f"cannot run {binary}: {error.strerror or error}") from None
        if not result.ok:
            said = result.stderr.strip() or result.stdout.strip()
            raise DriftlabError(f"`{binary} {verb} {self.node_container}` failed: {said}")
