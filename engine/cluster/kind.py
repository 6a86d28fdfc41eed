"""The pykind wrapper: the `kind` command (v0.32) driven through subprocess, its failures turned into advice.

kind logs progress to stderr and prints data (cluster names, kubeconfigs, folders) on stdout. A failure is
`ERROR: <what>` on stderr, followed by `Command Output: <output>` when a container runtime command failed, and
exit code 1. Every call has a timeout; a create that fails or is interrupted leaves no half-made cluster.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import proc
from ..errors import DriftlabError

KIND_VERSION = "0.32.0"  # the version driftlab is tested with
API_VERSION = "kind.x-k8s.io/v1alpha4"
DEFAULT_WAIT = "60s"
NODE_PORTS = range(30000, 32768)  # the API server's default --service-node-port-range
INSTALL_DOCS = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
EMBEDDED_HINT = "or use the embedded backend, which needs neither Docker nor kind: --backend embedded"

VERSION_TIMEOUT = 15.0
QUERY_TIMEOUT = 60.0
DELETE_TIMEOUT = 180.0
LOAD_TIMEOUT = 600.0
LOGS_TIMEOUT = 300.0

# Why a call failed, for callers that react to some failures (KindError.reason).
NOT_INSTALLED = "not-installed"
NO_RUNTIME = "no-runtime"
RUNTIME_DOWN = "runtime-down"
RUNTIME_DENIED = "runtime-denied"
EXISTS = "exists"
IMAGE_PULL = "image-pull"
NO_CLUSTER = "no-cluster"
IMAGE_MISSING = "image-missing"
TIMEOUT = "timeout"
BAD_INPUT = "bad-input"
FAILED = "failed"

_NAME = re.compile(r"^[a-z0-9.-]+$")  # kind's own rule for cluster names
_DURATION = re.compile(r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$")  # a Go duration, as --wait takes
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)")
_STEP = re.compile(r"^\s*[•✓✗]\s+(.*?)\s*(\.\.\.)?$")
_DAEMON_DOWN = ("cannot connect to the docker daemon", "is the docker daemon running", "cannot connect to podman")
_DAEMON_DOWN_RE = re.compile(r"unable to connect to podman socket|error during connect", re.I)


class KindError(DriftlabError):
    """kind failed. The message says what happened and what to do; `output` is kind's stderr, `reason` one of
    the reasons above, so a caller can tell "the cluster already exists" from "Docker is not running"."""

    def __init__(self, message: str, output: str = "", reason: str = FAILED) -> None:
        super().__init__(message)
        self.output = output
        self.reason = reason


# Advice shared with the runtime detection and the doctor ---------------------------------------------------


def install_hint() -> str:
    """The command that installs the kind release driftlab is tested with, for this machine."""
    system = platform.system().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    if system not in ("linux", "darwin") or arch is None:
        return f"install kind v{KIND_VERSION}: {INSTALL_DOCS}"
    url = f"https://kind.sigs.k8s.io/dl/v{KIND_VERSION}/kind-{system}-{arch}"
    return f"curl -Lo ./kind {url} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind"


def runtime_install_hint(name: str = "docker") -> str:
    """How to install a container runtime kind can use."""
    if name == "podman":
        return "install Podman (https://podman.io/docs/installation) and set KIND_EXPERIMENTAL_PROVIDER=podman"
    if name == "nerdctl":
        return "install nerdctl with containerd (https://github.com/containerd/nerdctl/releases)"
    if platform.system() == "Linux":
        return (
            "install Docker Engine: https://docs.docker.com/engine/install/ "
            "(or Podman, with KIND_EXPERIMENTAL_PROVIDER=podman)"
        )
    return "install Docker Desktop: https://docs.docker.com/get-docker/"


def runtime_start_hint(name: str, detail: str = "") -> str:
    """How to get a runtime that is installed but does not answer to answer."""
    if "permission denied" in detail.lower():
        return f"let your user talk to {name}: sudo usermod -aG docker $USER, then log out and back in"
    if name == "podman":
        return "start Podman's machine: podman machine start (Linux: systemctl --user start podman.socket)"
    if name == "nerdctl":
        return "start containerd: sudo systemctl start containerd"
    if name == "finch":
        return "start Finch's virtual machine: finch vm start"
    if platform.system() == "Linux":
        return "start the Docker daemon: sudo systemctl start docker (or open Docker Desktop)"
    return "open Docker Desktop and wait until it says it is running"


# Configuration ---------------------------------------------------------------------------------------------


def check_cluster_name(name: str) -> str:
    """kind names its node containers after the cluster, so it takes only lowercase letters, digits, '.', '-'."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise KindError(
            f"invalid kind cluster name {name!r}: use lowercase letters, digits, '.' and '-'", reason=BAD_INPUT
        )
    return name


def kind_config(
    name: str, node_ports: Sequence[int], *, image: str | None = None, listen_address: str = "127.0.0.1"
) -> dict[str, Any]:
    """kind's cluster config (`kind.x-k8s.io/v1alpha4`) for a lab: one control-plane node whose NodePorts are
    published on the host at the same port numbers, so `curl localhost:PORT` works as on the embedded backend.

    Ports are published on `listen_address` only (kind's own default would be every interface).
    """
    check_cluster_name(name)
    try:
        address = ipaddress.ip_address(listen_address)
    except ValueError:
        raise KindError(f"listen address {listen_address!r} is not an IP address", reason=BAD_INPUT) from None
    node: dict[str, Any] = {"role": "control-plane"}
    if image is not None:
        if not isinstance(image, str) or not image.strip():
            raise KindError(f"node image {image!r} is not an image name", reason=BAD_INPUT)
        node["image"] = image
    ports = _node_ports(node_ports)
    if ports:
        node["extraPortMappings"] = [
            {"containerPort": port, "hostPort": port, "listenAddress": str(address), "protocol": "TCP"}
            for port in ports
        ]
    return {"kind": "Cluster", "apiVersion": API_VERSION, "name": name, "nodes": [node]}


def _node_ports(node_ports: Sequence[int]) -> list[int]:
    if isinstance(node_ports, (str, bytes)):
        raise KindError(f"node ports must be a list of numbers, not {node_ports!r}", reason=BAD_INPUT)
    ports = set()
    for port in node_ports:
        if isinstance(port, bool) or not isinstance(port, int) or port not in NODE_PORTS:
            raise KindError(
                f"node port {port!r} is not a NodePort: use a number from {NODE_PORTS.start} to {NODE_PORTS.stop - 1}",
                reason=BAD_INPUT,
            )
        ports.add(port)
    return sorted(ports)


def find_kind(env: Mapping[str, str] | None = None) -> str | None:
    """The `kind` executable on PATH (the PATH in `env` when it has one), or None."""
    return shutil.which("kind", path={**os.environ, **(env or {})}.get("PATH"))


# Reading kind's failures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    message: str  # what followed "ERROR: "
    output: str  # what followed "Command Output: "
    stderr: str

    @property
    def text(self) -> str:
        return f"{self.message}\n{self.output}"

    @property
    def tool(self) -> str:
        """The container runtime command that failed (kind falls back to docker when it finds none)."""
        found = re.search(r'exec: "([\w.-]+)"|command "([\w.-]+) ', self.message)
        return next((group for group in found.groups() if group), "docker") if found else "docker"

    def detail(self) -> str:
        """The line of the failed command's output that says what went wrong (not the JSON docker prints)."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip() and line.strip()[0] not in "{["]
        for markers in ((*_DAEMON_DOWN, "permission denied"), ("error",)):
            for line in lines:
                if any(marker in line.lower() for marker in markers):
                    return line
        return lines[-1] if lines else ""


def _parse(stderr: str) -> _Failure:
    text = _ANSI.sub("", stderr)
    start = re.search(r"^ERROR: ", text, re.M)
    if start is None:
        last = [line.strip() for line in text.splitlines() if line.strip()]
        return _Failure(last[-1] if last else "", "", stderr)
    rest = text[start.end() :]
    rest = re.split(r"\n\s*Stack Trace:", rest, maxsplit=1)[0]
    message, _, output = rest.partition("Command Output:")
    return _Failure(message.strip(), output.strip(), stderr)


def _explain(stderr: str, *, doing: str, cluster: str, cleanup: str = "") -> KindError:
    """Turn kind's error output into a KindError that says what happened and what to do. `doing` says what
    was asked of kind ("creating kind cluster 'x'"); `cleanup`, what was done about a half-created cluster."""
    failure = _parse(stderr)
    known = _match(failure, cluster)
    if known is not None:
        message, reason = known
        return KindError(f"{message}{cleanup}", output=stderr, reason=reason)
    what = re.sub(r"^failed to create cluster: ", "", failure.message) or "kind exited without saying why"
    detail = f" ({failure.detail()})" if failure.detail() else ""
    return KindError(
        f"{doing} failed: {what}{detail}{cleanup}. `driftlab doctor` checks kind and the container runtime; "
        "the same kind command with `-v 1` shows more",
        output=stderr,
    )


def _match(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    """The message and reason of a failure driftlab knows how to fix, or None."""
    for rule in (_no_runtime, _runtime_down, _exists, _image_pull, _no_cluster, _image_missing):
        found = rule(failure, cluster)
        if found is not None:
            return found
    return None


def _no_runtime(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    found = re.search(r'exec: "([\w.-]+)": executable file not found', failure.text)
    if found is None:
        return None
    tool = found.group(1)
    message = (
        f"kind found no {tool} to run the cluster's nodes in ({tool} is not installed, or not on PATH): "
        f"{runtime_install_hint(tool)}; {EMBEDDED_HINT}"
    )
    return message, NO_RUNTIME


def _runtime_down(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    lowered = failure.text.lower()
    denied = "permission denied while trying to connect" in lowered
    if not denied and not any(marker in lowered for marker in _DAEMON_DOWN) and not _DAEMON_DOWN_RE.search(lowered):
        return None
    tool, detail = failure.tool, failure.detail() or failure.message
    if denied:
        return (
            f"kind may not use {tool} ({detail}): {runtime_start_hint(tool, detail)}; {EMBEDDED_HINT}",
            RUNTIME_DENIED,
        )
    message = (
        f"{tool} is installed but its daemon does not answer ({detail}): {runtime_start_hint(tool)}, then try "
        f"again; {EMBEDDED_HINT}"
    )
    return message, RUNTIME_DOWN


def _exists(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    found = re.search(r'node\(s\) already exist for a cluster with the name "([^"]+)"', failure.message)
    if found is None:
        return None
    name = found.group(1)
    message = (
        f"a kind cluster named {name!r} already exists: use it as it is, or delete it first with "
        f"`kind delete cluster --name {name}`"
    )
    return message, EXISTS


def _image_pull(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    found = re.search(r'failed to pull image "([^"]+)"', failure.message)
    if found is None:
        return None
    image = found.group(1)
    detail = failure.detail()
    if re.search(r"not found|manifest unknown|does not exist", detail, re.I):
        advice = "that image or tag does not exist: check the node image name (kind's releases list theirs)"
    else:
        advice = (
            "check the internet connection (and HTTPS_PROXY behind a proxy), then try again; "
            f"or pull it yourself first: {failure.tool} pull {image}"
        )
    reason = f" ({detail})" if detail else ""
    return f"kind could not download the node image {image}{reason}: {advice}", IMAGE_PULL


def _no_cluster(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    found = re.search(
        r"could not locate any control plane nodes for cluster named '([^']+)'"
        r'|no nodes found for cluster "([^"]+)"|unknown cluster "([^"]+)"',
        failure.message,
    )
    if found is None:
        return None
    name = next(group for group in found.groups() if group)
    message = (
        f"there is no kind cluster named {name!r}: create it first (kind create cluster --name {name}); "
        "`kind get clusters` lists the clusters there are"
    )
    return message, NO_CLUSTER


def _image_missing(failure: _Failure, cluster: str) -> tuple[str, str] | None:
    found = re.search(r'image: "([^"]+)" not present locally', failure.message)
    if found is None:
        return None
    image = found.group(1)
    message = (
        f"the image {image} is not among {failure.tool}'s local images, so kind cannot load it into cluster "
        f"{cluster!r}: pull or build it first ({failure.tool} pull {image}, or {failure.tool} build -t {image} .), "
        "then load it again"
    )
    return message, IMAGE_MISSING


# Progress --------------------------------------------------------------------------------------------------


class _Progress:
    """Hands kind's progress lines on, and remembers the step it was at when something went wrong."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink = sink
        self.step = ""
        self.failed = False

    def __call__(self, line: str) -> None:
        line = _ANSI.sub("", line).rstrip()
        if line.startswith("ERROR:"):
            self.failed = True  # the error itself becomes the KindError, not progress
        if self.failed or not line.strip():
            return
        step = _STEP.match(line)
        if step is not None:
            self.step = step.group(1)
        self.sink(line)


def _ignore(line: str) -> None:
    """The default progress sink."""


# The wrapper -----------------------------------------------------------------------------------------------


class Kind:
    """One `kind` executable. `env` entries are added to the environment of every kind command it runs (such as
    KIND_EXPERIMENTAL_PROVIDER, or a PATH to find the container runtime on)."""

    def __init__(self, binary: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})
        path = {**os.environ, **self.env}.get("PATH")
        found = shutil.which(binary, path=path) if binary else find_kind(self.env)
        if found is None:
            missing = f"{binary} does not exist or is not executable" if binary else "kind is not installed"
            raise KindError(f"{missing}: {install_hint()}; {EMBEDDED_HINT}", reason=NOT_INSTALLED)
        self.binary = found

    def version(self) -> str:
        """kind's version, such as "0.32.0"."""
        out = self._call(["version"], timeout=VERSION_TIMEOUT)
        found = _VERSION.search(out)
        if found is None:
            raise KindError(f"`{self.binary} version` printed {out.strip()!r}, not a kind version: is it kind?")
        return found.group(1)

    def create(
        self,
        name: str,
        *,
        config: dict[str, Any] | None = None,
        image: str | None = None,
        wait: str = DEFAULT_WAIT,
        kubeconfig: Path | None = None,
        progress: Callable[[str], None] = _ignore,
        timeout: float = 600,
    ) -> None:
        """Create a cluster and return once its control plane is Ready (within `wait`, a Go duration).

        kind's progress lines (` ✓ Preparing nodes 📦`, ...) go to `progress` as they come. `config` is kind's
        cluster config (see `kind_config`); `kubeconfig` is the file kind writes the context `kind-NAME` into
        (KUBECONFIG or ~/.kube/config otherwise). A create that fails, times out or is interrupted deletes the
        half-created cluster, unless it failed because a cluster of that name was already there.
        """
        args = self._create_args(name, config=config, image=image, wait=wait, kubeconfig=kubeconfig)
        text = _config_text(config)
        tracker = _Progress(progress)
        try:
            result = self._run(args, timeout=timeout, input=text, on_stderr=tracker)
        except subprocess.TimeoutExpired as err:
            at = f" (at: {tracker.step})" if tracker.step else ""
            raise KindError(
                f"creating kind cluster {name!r} took longer than {timeout:g}s{at}, so it was stopped"
                f"{self._remove_half_created(name)}. The first cluster downloads kind's node image, which can take "
                "minutes on a slow link: try again with a longer timeout",
                output=_text(err.stderr),
                reason=TIMEOUT,
            ) from None
        except BaseException:  # an interrupt, or the progress callback failed: kind was stopped mid-way
            self._remove_half_created(name)
            raise
        if result.ok:
            return
        # Without a runtime nothing was made, and a cluster that was there before is not ours to delete.
        known = _match(_parse(result.stderr), name)
        untouched = known is not None and known[1] in (EXISTS, NO_RUNTIME, RUNTIME_DOWN, RUNTIME_DENIED)
        cleanup = "" if untouched else self._remove_half_created(name)
        at = f" at {tracker.step!r}" if tracker.step else ""
        raise _explain(result.stderr, doing=f"creating kind cluster {name!r}{at}", cluster=name, cleanup=cleanup)

    def delete(self, name: str) -> None:
        """Delete a cluster; deleting one that does not exist is not an error (as with kind)."""
        self._call(["delete", "cluster", "--name", check_cluster_name(name)], timeout=DELETE_TIMEOUT, cluster=name)

    def clusters(self) -> list[str]:
        """The names of the kind clusters there are."""
        out = self._call(["get", "clusters"], timeout=QUERY_TIMEOUT)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def kubeconfig(self, name: str, *, internal: bool = False) -> str:
        """The cluster's kubeconfig: for the host (https://127.0.0.1:PORT), or with `internal` for containers on
        the kind network (https://NAME-control-plane:6443)."""
        args = ["get", "kubeconfig", "--name", check_cluster_name(name), *(["--internal"] if internal else [])]
        return self._call(args, timeout=QUERY_TIMEOUT, cluster=name)

    def load_image(self, name: str, images: Sequence[str]) -> None:
        """Copy images from the host's container runtime into every node of the cluster."""
        wanted = [images] if isinstance(images, str) else list(images)
        if not wanted:
            return
        for image in wanted:
            if not isinstance(image, str) or not image.strip():
                raise KindError(f"{image!r} is not an image name", reason=BAD_INPUT)
        args = ["load", "docker-image", *wanted, "--name", check_cluster_name(name)]
        self._call(args, timeout=LOAD_TIMEOUT, cluster=name)

    def export_logs(self, name: str, directory: Path) -> Path:
        """Write the cluster's node logs (journal, kubelet, containerd, pods) into `directory`; returns it."""
        args = ["export", "logs", str(directory), "--name", check_cluster_name(name)]
        out = self._call(args, timeout=LOGS_TIMEOUT, cluster=name).strip()
        return Path(out.splitlines()[-1]) if out else Path(directory)

    # Running kind ------------------------------------------------------------------------------------------

    def _create_args(
        self,
        name: str,
        *,
        config: dict[str, Any] | None,
        image: str | None,
        wait: str,
        kubeconfig: Path | None,
    ) -> list[str]:
        check_cluster_name(name)
        if not isinstance(wait, str) or not _DURATION.match(wait):
            raise KindError(f"wait {wait!r} is not a duration such as 60s or 2m30s", reason=BAD_INPUT)
        if config is not None and not isinstance(config, dict):
            raise KindError(f"kind's config must be a mapping, not {type(config).__name__}", reason=BAD_INPUT)
        args = ["create", "cluster", "--name", name, "--wait", wait]
        if image is not None:
            if not isinstance(image, str) or not image.strip():
                raise KindError(f"node image {image!r} is not an image name", reason=BAD_INPUT)
            args += ["--image", image]
        if kubeconfig is not None:
            args += ["--kubeconfig", str(kubeconfig)]
        if config is not None:
            args += ["--config", "-"]
        return args

    def _run(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        on_stderr: Callable[[str], None] | None = None,
    ) -> proc.Result:
        try:
            return proc.run_streaming(
                [self.binary, *args], env=self.env, input=input, timeout=timeout, on_stderr=on_stderr
            )
        except OSError as err:
            raise KindError(
                f"cannot run {self.binary} ({err.strerror or err}): reinstall kind: {install_hint()}",
                reason=NOT_INSTALLED,
            ) from None

    def _call(self, args: Sequence[str], *, timeout: float, cluster: str = "") -> str:
        """Run a kind command that prints data; its stdout, or a KindError that explains the failure."""
        command = " ".join(args)
        try:
            result = self._run(args, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise KindError(
                f"`kind {command}` did not finish within {timeout:g}s and was stopped: is the container runtime "
                "answering? (driftlab doctor checks it)",
                output=_text(err.stderr),
                reason=TIMEOUT,
            ) from None
        if not result.ok:
            raise _explain(result.stderr, doing=f"`kind {command}`", cluster=cluster)
        return result.stdout

    def _remove_half_created(self, name: str) -> str:
        """Delete what a failed create left; the words to add to its error."""
        try:
            self.delete(name)
        except KindError:
            return f"; deleting the half-created cluster failed too: delete it with `kind delete cluster --name {name}`"
        return "; the half-created cluster was deleted"


def _config_text(config: dict[str, Any] | None) -> str | None:
    if config is None:
        return None
    try:
        return yaml.safe_dump(config, sort_keys=False)
    except yaml.YAMLError as err:
        raise KindError(f"kind's config cannot be written as YAML: {err}", reason=BAD_INPUT) from None


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""
