"""What a lab does differently on each cluster backend.

kind: the kind config gets host ports for the NodePorts the lab and its course declare (found here), and the
real Flux / Argo CD are installed with the pinned releases, given a Secret with the deploy account for each of
the lab's repos, and bootstrapped with the Git server's address on the kind network's gateway.

existing (a shared cluster): every namespace the lab names is the learner's prefixed one. The lab maps the
namespaces it creates, seeds, checks and resets: seed manifests and `apply:`/`delete:` setup actions have
their namespaces rewritten, checks read through `MappedReader`, and the kubeconfig defaults to the learner's
course namespace. What it cannot map is shell code and text: a command saying `-n shop` talks to the real
`shop`. `shared_cluster_problems` lists what keeps a course off a shared cluster; a course runs there when:
- its lab runs no GitOps agents (they are cluster-wide, and pull from a Git server on the learner's machine);
- it names namespaces only where the lab maps them (lab.yaml `namespaces:`, the course's `namespace:`, the
  `namespace:` of checks and setup actions, `metadata.namespace` of seed and setup manifests), and never in
  shell code (setup `run:`, command checks, solution commands), solution files, the lab's repos, hints or
  instructions: there it relies on the kubeconfig's default namespace, the course's;
- its seed creates no cluster-scoped objects but Namespaces.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..checks.reader import JSON, ApiResource, Read, Reader, WatchStream
from ..cluster.images.build import own_images
from ..course import CourseError, SetupAction, load_manifests
from ..course.manifests import seed_namespaces
from ..course.model import DeleteTarget
from ..errors import DriftlabError
from .runner import ActionRunner, SetupError, tail
from .trust import shell_code

if TYPE_CHECKING:
    from ..course import Course, Lab

AGENT_INSTALL_TIMEOUT = 600.0
NODE_PORT_RANGE = range(30000, 32768)
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    }
)
TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".sh", ".md", ".txt", "")

Mapper = Callable[[str], str]


# NodePorts (kind) ---------------------------------------------------------------------------------------------


def node_ports(course: Course, lab: Lab) -> list[int]:
    """NodePorts of the Services in the lab's seed, bootstrap and repos, and in the course's folder and steps."""
    documents: list[Any] = []
    for folder in (lab.folder, course.folder):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".yml") and path.name not in ("course.yaml", "lab.yaml"):
                documents += _documents(_read(path))
    for step in course.steps:
        documents += [action.apply for action in step.setup if isinstance(action.apply, dict)]
        if step.solution is not None:
            documents += [item for edit in step.solution.files if edit.content for item in _documents(edit.content)]
    return sorted({port for document in documents for port in _service_node_ports(document)})


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return ""


def _documents(text: str) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError:
        return []


def _service_node_ports(document: Any) -> list[int]:
    if not isinstance(document, dict):
        return []
    if document.get("kind") == "List":
        return [port for item in document.get("items") or [] for port in _service_node_ports(item)]
    spec = document.get("spec") if document.get("kind") == "Service" else None
    if not isinstance(spec, dict) or spec.get("type") not in ("NodePort", "LoadBalancer"):
        return []
    found = [port.get("nodePort") for port in spec.get("ports") or [] if isinstance(port, dict)]
    return [port for port in found if isinstance(port, int) and port in NODE_PORT_RANGE]


# Real GitOps agents (kind) ------------------------------------------------------------------------------------


def install_agents(
    agents: Sequence[str],
    kubeconfig: Path,
    progress: Callable[[str], None],
    *,
    install: Callable[..., None] | None = None,
    timeout: float = AGENT_INSTALL_TIMEOUT,
) -> None:
    """Install each agent's pinned release (apply, then wait until its workloads are ready)."""
    from ..gitops.installer import install as install_release
    from ..gitops.releases import release

    run = install or install_release
    for agent in agents:
        run(release(agent), kubeconfig, progress=progress, timeout=timeout)


def agent_credentials(
    agents: Sequence[str],
    kubeconfig: Path,
    git_url: str,
    repos: Sequence[str],
    username: str,
    password: str,
    *,
    apply: Callable[..., str] | None = None,
) -> list[str]:
    """For each agent and repo, the Secret with the deploy account the agent logs in to the Git server with."""
    from ..gitops.installer import git_credentials

    run = apply or git_credentials
    base = git_url.rstrip("/")
    return [
        run(agent, kubeconfig, git_url=f"{base}/{repo}.git", username=username, password=password)
        for agent in agents
        for repo in repos
    ]


# Namespaces on a shared cluster (existing) --------------------------------------------------------------------


def map_manifest(manifest: Mapping[str, Any], mapper: Mapper) -> dict[str, Any]:
    """A manifest whose namespace (its name, for a Namespace) is the learner's; anything else is left alone."""
    mapped = dict(manifest)
    metadata = dict(mapped.get("metadata") or {}) if isinstance(mapped.get("metadata"), dict) else None
    if metadata is None:
        return mapped
    if mapped.get("kind") == "Namespace" and isinstance(metadata.get("name"), str):
        metadata["name"] = mapper(metadata["name"])
    elif isinstance(metadata.get("namespace"), str):
        metadata["namespace"] = mapper(metadata["namespace"])
    if mapped.get("kind") == "List" and isinstance(mapped.get("items"), list):
        mapped["items"] = [map_manifest(item, mapper) if isinstance(item, dict) else item for item in mapped["items"]]
    mapped["metadata"] = metadata
    return mapped


def cluster_scoped(manifests: Iterable[Mapping[str, Any]]) -> list[str]:
    """`Kind name` of the cluster-scoped objects (other than Namespaces) among manifests."""
    return [
        f"{item.get('kind')} {(item.get('metadata') or {}).get('name', '?')}"
        for item in manifests
        if item.get("kind") in CLUSTER_SCOPED
    ]


class MappedReader:
    """A Reader whose reads go to the learner's namespaces: what a check names as `shop` is read in `ada-shop`."""

    def __init__(self, inner: Reader, mapper: Mapper) -> None:
        self.inner = inner
        self.mapper = mapper

    @property
    def server(self) -> str:
        return self.inner.server

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        return self.inner.resolve(kind, api_version)

    def _mapped(self, read: Read) -> Read:
        if read.namespace is None:
            return read
        return dataclasses.replace(read, namespace=self.mapper(read.namespace))

    def fetch(self, read: Read) -> list[JSON]:
        return self.inner.fetch(self._mapped(read))

    def list_version(self, read: Read) -> str:
        return self.inner.list_version(self._mapped(read))

    def watch(self, read: Read, resource_version: str) -> WatchStream:
        return self.inner.watch(self._mapped(read), resource_version)

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()


@dataclasses.dataclass
class MappedActionRunner(ActionRunner):
    """An ActionRunner whose `apply:` and `delete:` actions land in the learner's namespaces (`namespace` is
    already the learner's course namespace; `mapper` maps the names the course writes)."""

    mapper: Mapper = str

    def run_action(self, action: SetupAction) -> None:
        if action.run is not None:
            super().run_action(action)
            return
        namespace = self.mapper(action.namespace) if action.namespace else self.namespace
        if isinstance(action.delete, DeleteTarget):
            target = action.delete
            where = self.mapper(target.namespace) if target.namespace else namespace
            mapped = target.model_copy(update={"namespace": where})
            super().run_action(action.model_copy(update={"delete": mapped, "namespace": None}))
            return
        documents = self._manifests(action)
        text = yaml.safe_dump_all([map_manifest(item, self.mapper) for item in documents], sort_keys=False)
        if action.apply is not None:
            self.apply(["-"], namespace=namespace, stdin=text)
            return
        result = self.kubectl("delete", "--ignore-not-found", "-n", namespace, "-f", "-", input=text)
        if not result.ok:
            raise SetupError(tail(result.stderr) or f"kubectl exited with {result.returncode}")

    def _manifests(self, action: SetupAction) -> list[dict[str, Any]]:
        if isinstance(action.apply, dict):
            return [action.apply]
        source = action.apply if isinstance(action.apply, str) else action.delete
        if not isinstance(source, str):
            return []
        try:
            return load_manifests(self.folder / source)
        except CourseError as error:
            raise SetupError(str(error)) from None
        except OSError as error:
            raise SetupError(f"cannot read {source}: {error.strerror or error}") from None


def seed_documents(lab: Lab, mapper: Mapper) -> list[dict[str, Any]]:
    """The lab's seed manifests with the learner's namespaces; a cluster-scoped object is refused."""
    documents: list[dict[str, Any]] = []
    for path in lab.seed_paths():
        try:
            documents += load_manifests(path)
        except (CourseError, OSError) as error:
            raise SetupError(f"seeding lab {lab.name!r} failed: cannot read {path}: {error}") from None
    scoped = cluster_scoped(documents)
    if scoped:
        raise DriftlabError(
            f"lab {lab.name!r} seeds cluster-scoped objects ({', '.join(scoped)}), which a shared cluster cannot "
            "give each learner: run it on the embedded or kind backend"
        )
    return [map_manifest(item, mapper) for item in documents]


# What keeps a course off a backend ----------------------------------------------------------------------------


def backend_problems(course: Course, backend: str) -> list[str]:
    """Why the course cannot run on `backend` (none when it can), for `course validate --backend`."""
    from ..cluster.backend import ALLOWED, EXISTING, check_backend
    from ..course import load_lab

    check_backend(backend)
    lab = load_lab(course.lab_folder)
    if backend not in ALLOWED.get(lab.backend, ()):
        return [f"lab {lab.name!r} says `backend: {lab.backend}`"]
    if backend == EXISTING:
        return shared_cluster_problems(course, lab, lab_namespace_names(course, lab))
    return []


def lab_namespace_names(course: Course, lab: Lab) -> list[str]:
    """Every namespace the lab names, as the course writes them: lab.yaml's, the course's (`default` too) and
    the seed's Namespaces; the kube-* system namespaces are left out (never the lab's)."""
    from ..cluster.existing import SYSTEM_NAMESPACES

    found = [*lab.namespaces, course.namespace, *seed_namespaces(lab.seed_paths())]
    return [name for name in dict.fromkeys(found) if name not in SYSTEM_NAMESPACES]


def shared_cluster_problems(course: Course, lab: Lab, namespaces: Sequence[str]) -> list[str]:
    """Why the course cannot run on a shared cluster with per-learner namespaces (none when it can).

    `namespaces` are the namespaces the lab maps (the lab's, the course's and the seed's Namespaces)."""
    problems: list[str] = []
    if lab.agents:
        problems.append(
            f"lab {lab.name!r} runs GitOps agents ({', '.join(lab.agents)}): they are installed for the whole "
            "cluster and pull from the Git server on the learner's machine, which a shared cluster cannot reach"
        )
    catalogue = lab.images_path()
    own = own_images(catalogue) if catalogue is not None and catalogue.is_file() else []
    if own:
        problems.append(
            f"lab {lab.name!r} runs images that exist only on the learner's machine "
            f"({', '.join(image.reference for image in own)}): a shared cluster cannot pull them"
        )
    named = [name for name in namespaces if name]
    if not named:
        return problems
    pattern = _namespace_pattern(named)
    seen: set[tuple[str, str]] = set()
    for where, text in _course_texts(course, lab):
        for match in pattern.finditer(text):
            said = " ".join(match.group(0).split())
            if (where, said) not in seen:
                seen.add((where, said))
                problems.append(f"{where} says {said!r}: a namespace the lab cannot map to the learner's")
    return problems


def _namespace_pattern(names: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    flag = r"(?:(?<![\w-])-n[= ]?|--namespace[= ])"
    field = r"(?:\bnamespace:\s*)"
    return re.compile(rf"(?:{flag}|{field})[\"']?(?P<ns>{alternatives})(?![\w-])")


def _course_texts(course: Course, lab: Lab) -> list[tuple[str, str]]:
    """Every text whose namespaces the lab cannot map, with where it is."""
    texts: list[tuple[str, str]] = []
    for code in shell_code(course.steps, solutions=True):
        texts.append((f"step {code.step}: {code.role} code", code.code))
    for step in course.steps:
        texts += [(f"step {step.id}: hint {index}", hint) for index, hint in enumerate(step.hints, start=1)]
        if step.solution is not None:
            texts += [
                (f"step {step.id}: solution file {f.path}", f.content or f.patch or "") for f in step.solution.files
            ]
        try:
            texts.append((f"step {step.id}: instructions", course.instructions(step)))
        except OSError:
            continue
    for repo in lab.repos:
        folder = lab.folder / "repos" / repo.name
        files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
        texts += [(f"lab {lab.name!r}: repos/{repo.name}/{p.relative_to(folder)}", _read(p)) for p in files]
    return texts
