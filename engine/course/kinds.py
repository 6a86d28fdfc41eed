"""Which kinds a lab's cluster serves: the embedded cluster's built-in kinds plus those of the CRDs it is seeded with.

Checks name kinds the way kubectl does (`Deployment`, `deploy`, `deployments`, `deployments.apps`); manifests
name them exactly (`apiVersion` + `kind`). Both are resolved here so a typo is caught before a lab starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..cluster.embedded.resources import BUILTIN, ResourceType, from_crd

CRD_API_VERSION = "apiextensions.k8s.io/v1"


class KindError(Exception):
    """A kind the cluster would not serve; the message says what is served instead, when something is close."""


@dataclass(frozen=True)
class ServedKinds:
    types: tuple[ResourceType, ...] = BUILTIN

    def with_types(self, extra: Iterable[ResourceType]) -> ServedKinds:
        return ServedKinds((*self.types, *extra))

    def resolve(self, name: str, api_version: str | None = None) -> ResourceType:
        """The resource a kubectl-style name refers to: kind, plural, singular or short name, optionally `.group`."""
        resource, _, qualifier = name.lower().partition(".")
        candidates = [
            rtype
            for rtype in self.types
            if resource in (rtype.kind.lower(), rtype.plural, rtype.singular, *rtype.short_names)
            and qualifier in ("", rtype.group, f"{rtype.version}.{rtype.group}")
        ]
        if not candidates:
            raise KindError(f"unknown kind '{name}': {self._not_served()}{self._suggest(resource)}")
        return self._pick(name, candidates, api_version)

    def manifest_type(self, api_version: str, kind: str) -> ResourceType:
        """The resource of a manifest, whose apiVersion and kind must match exactly, as the API server wants."""
        candidates = [rtype for rtype in self.types if rtype.kind == kind]
        if not candidates:
            raise KindError(f"unknown kind '{kind}': {self._not_served()}{self._suggest(kind.lower())}")
        return self._pick(kind, candidates, api_version)

    def _pick(self, name: str, candidates: list[ResourceType], api_version: str | None) -> ResourceType:
        if api_version is None:
            return candidates[0]
        for rtype in candidates:
            if rtype.api_version == api_version:
                return rtype
        served = ", ".join(sorted({rtype.api_version for rtype in candidates}))
        raise KindError(f"{name} is not served as {api_version} (it is served as {served})")

    def _not_served(self) -> str:
        return "neither a built-in kind nor declared by a CRD in the lab's seed or a step's setup"

    def _suggest(self, word: str) -> str:
        names = {rtype.kind.lower(): rtype.kind for rtype in self.types}
        names.update({rtype.plural: rtype.kind for rtype in self.types})
        close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.75)
        return f" (did you mean {names[close[0]]}?)" if close else ""


def crd_problem(manifest: dict[str, Any]) -> str | None:
    """Why a CustomResourceDefinition cannot declare a kind, or None when it can."""
    spec = manifest.get("spec")
    names = spec.get("names") if isinstance(spec, dict) else None
    versions = spec.get("versions") if isinstance(spec, dict) else None
    if not (
        isinstance(spec, dict)
        and isinstance(spec.get("group"), str)
        and isinstance(names, dict)
        and isinstance(names.get("kind"), str)
        and isinstance(names.get("plural"), str)
        and all(_optional(names, key, list) for key in ("shortNames", "categories"))
        and isinstance(versions, list)
        and versions
        and all(_well_formed_version(version) for version in versions)
    ):
        return (
            "a CustomResourceDefinition needs spec.group, spec.names.kind, spec.names.plural and "
            "spec.versions with a name each"
        )
    return None


def _well_formed_version(version: Any) -> bool:
    return (
        isinstance(version, dict)
        and isinstance(version.get("name"), str)
        and all(_optional(version, key, dict) for key in ("schema", "subresources"))
        and _optional(version, "additionalPrinterColumns", list)
    )


def _optional(mapping: dict[str, Any], key: str, kind: type) -> bool:
    return mapping.get(key) is None or isinstance(mapping[key], kind)


def is_crd(manifest: dict[str, Any]) -> bool:
    return manifest.get("kind") == "CustomResourceDefinition" and manifest.get("apiVersion") == CRD_API_VERSION


def crd_types(manifest: dict[str, Any]) -> list[ResourceType]:
    """The resource types a well-formed CRD serves (see crd_problem for the malformed ones)."""
    return from_crd(manifest) if crd_problem(manifest) is None else []
