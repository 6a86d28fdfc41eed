"""Reading cluster state for checks: kinds resolved as kubectl resolves them, objects fetched, changes watched.

`Reader` is what the evaluator and the watcher need; `KubeReader` implements it with the official `kubernetes`
client against any kubeconfig (so checks behave the same on every backend), and `engine.checks.memory` keeps
objects in memory for tests.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import DriftlabError

JSON = dict[str, Any]


class ReadError(DriftlabError):
    """State could not be read; the message is shown to the learner as the reason a check fails."""


class UnknownKind(ReadError):
    """The cluster serves no resource by that name."""


class Unreachable(ReadError):
    """The API server did not answer (not started, restarting, or gone)."""


class Expired(ReadError):
    """A watch asked for a resourceVersion the server no longer keeps; list again."""


@dataclass(frozen=True)
class ApiResource:
    """A resource type as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def names(self) -> frozenset[str]:
        """Every lowercase name kubectl accepts for this type."""
        return frozenset({self.plural, self.singular or self.kind.lower(), self.kind.lower(), *self.short_names})


@dataclass(frozen=True)
class Read:
    """One request for state: an object by name, or the objects matching selectors, in a namespace or all."""

    resource: ApiResource
    namespace: str | None
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def describe(self) -> str:
        """`Deployment shop/web`, `Pods in shop matching app=web`, `Nodes`."""
        kind = self.resource.kind
        if self.name:
            where = f"{self.namespace}/" if self.namespace else ""
            return f"{kind} {where}{self.name}"
        text = _plural(self.resource)
        if self.resource.namespaced:
            text += f" in {self.namespace}" if self.namespace else " in every namespace"
        selectors = [s for s in (self.label_selector, self.field_selector) if s]
        if selectors:
            text += f" matching {','.join(selectors)}"
        return text

    def selector_for_list(self) -> str | None:
        """The field selector to send when listing or watching (a name becomes `metadata.name=`)."""
        parts = [f"metadata.name={self.name}"] if self.name else []
        if self.field_selector:
            parts.append(self.field_selector)
        return ",".join(parts) or None


def _plural(resource: ApiResource) -> str:
    """The kind in the plural, spelled as the kind is (ConfigMaps, Ingresses, Endpoints, Policies)."""
    kind, plural = resource.kind, resource.plural
    lower = kind.lower()
    for ending in ("", "s", "es"):
        if plural == lower + ending:
            return kind + ending
    if lower.endswith("y") and plural == lower[:-1] + "ies":
        return kind[:-1] + "ies"
    return plural


@dataclass(frozen=True)
class WatchEvent:
    type: str
    resource_version: str | None


class WatchStream(Protocol):
    """Events of one watch request; `close()` may be called from another thread and ends the iteration."""

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def close(self) -> None: ...


class Reader(Protocol):
    """What checks need from a cluster. Every method raises ReadError (never anything else) on failure."""

    @property
    def server(self) -> str: ...

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource: ...

    def fetch(self, read: Read) -> list[JSON]: ...

    def list_version(self, read: Read) -> str: ...

    def watch(self, read: Read, resource_version: str) -> WatchStream: ...


_VERSION_RE = re.compile(r"^v\d+((alpha|beta)\d+)?$")


def resolve_in(resources: Sequence[ApiResource], kind: str, api_version: str | None = None) -> ApiResource:
    """Pick the resource type kubectl would pick for `kind` (`deploy`, `Deployment`, `deployments.apps`, ...).

    `resources` are in discovery order (the core group first, each group's preferred version first), which is
    how kubectl breaks ties such as `events` (core) versus `events.events.k8s.io`.
    """
    wanted = kind.strip().lower()
    if not wanted:
        raise UnknownKind("a check names no kind")
    group, version = _split_api_version(api_version)
    for name, name_group, name_version in _name_forms(wanted):
        if name_group is not None and group is not None and name_group != group:
            continue
        for resource in resources:
            if name not in resource.names:
                continue
            if (name_group if name_group is not None else group) not in (None, resource.group):
                continue
            if (name_version or version) not in (None, resource.version):
                continue
            return resource
    raise UnknownKind(_unknown_message(resources, kind, api_version))


def _split_api_version(api_version: str | None) -> tuple[str | None, str | None]:
    if not api_version:
        return None, None
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    if _VERSION_RE.match(api_version):
        return "", api_version
    return api_version, None


def _name_forms(wanted: str) -> list[tuple[str, str | None, str | None]]:
    """`deployments.v1.apps` may mean resource.version.group or resource.group (as kubectl tries both)."""
    forms: list[tuple[str, str | None, str | None]] = [(wanted, None, None)]
    if "." in wanted:
        name, rest = wanted.split(".", 1)
        first, _, remainder = rest.partition(".")
        if _VERSION_RE.match(first) and remainder:
            forms.append((name, remainder, first))
        forms.append((name, rest, None))
    return forms


def _unknown_message(resources: Sequence[ApiResource], kind: str, api_version: str | None) -> str:
    wanted = kind.strip().lower()
    same_name = [r for r in resources if wanted.split(".")[0] in r.names]
    if api_version and same_name:
        served = ", ".join(sorted({r.api_version for r in same_name}))
        return f'the cluster serves "{kind}" as {served}, not {api_version}'
    names = sorted({name for r in resources for name in (r.kind, r.plural)})
    close = difflib.get_close_matches(kind, names, n=1, cutoff=0.75) or difflib.get_close_matches(
        wanted, [n.lower() for n in names], n=1, cutoff=0.75
    )
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'the cluster serves no kind "{kind}"{hint}'
