"""Resource types as discovery describes them, and picking one by name the way kubectl does."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import UnknownKind


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
