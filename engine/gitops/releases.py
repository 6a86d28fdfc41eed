"""The pinned Flux and Argo CD releases installed into real clusters, read from releases.yaml beside this file.

A release names the file to download, the namespace it installs into, how to apply it and which workloads must
be ready before the agent is usable. Pinning lives in data so that a version bump is a one-line change.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import DriftlabError

RELEASES_FILE = Path(__file__).with_name("releases.yaml")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PATH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class Workload(BaseModel):
    """A Deployment or StatefulSet of the release that must be ready."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["Deployment", "StatefulSet"]
    name: str = Field(pattern=_DNS_LABEL.pattern)

    @property
    def ref(self) -> str:
        """The short form kubectl accepts, such as `deploy/source-controller`."""
        return f"{'deploy' if self.kind == 'Deployment' else 'sts'}/{self.name}"


class Release(BaseModel):
    """One pinned release of a GitOps agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_DNS_LABEL.pattern, description="The agent: flux or argocd.")
    version: str = Field(pattern=_PATH_PART.pattern)
    url: str
    namespace: str = Field(pattern=_DNS_LABEL.pattern)
    apply: Literal["client-side", "server-side"]
    create_namespace: bool = Field(default=False, description="The manifest does not create its own namespace.")
    workloads: tuple[Workload, ...] = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        if not _PATH_PART.match(parts.path.rsplit("/", 1)[-1]):
            raise ValueError(f"the URL must end in a file name: {value!r}")
        return value

    @property
    def filename(self) -> str:
        """The downloaded file's own name, such as `install.yaml`."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    @property
    def mirror_path(self) -> str:
        """Where the file sits in a mirror and in the cache: `<name>/<version>/<file>`."""
        return f"{self.name}/{self.version}/{self.filename}"

    @property
    def label(self) -> str:
        """How messages name the release, such as `flux v2.9.4`."""
        return f"{self.name} {self.version}"


def parse_releases(text: str, source: str = "releases.yaml") -> dict[str, Release]:
    """Releases keyed by name; any problem is a DriftlabError naming the entry."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DriftlabError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, list):
        raise DriftlabError(f"{source}: expected a list of releases")
    releases: dict[str, Release] = {}
    for index, entry in enumerate(data):
        try:
            release = Release.model_validate(entry)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in error.errors())
            raise DriftlabError(f"{source}: release #{index + 1}: {problems}") from None
        if release.name in releases:
            raise DriftlabError(f"{source}: release {release.name!r} is listed twice")
        releases[release.name] = release
    return releases


@functools.cache
def releases() -> dict[str, Release]:
    """The releases shipped with driftlab."""
    return parse_releases(RELEASES_FILE.read_text(), str(RELEASES_FILE))


def release(name: str) -> Release:
    """The pinned release of one agent (`flux` or `argocd`)."""
    known = releases()
    if name not in known:
        raise DriftlabError(f"no pinned release for {name!r}: use one of {', '.join(sorted(known))}")
    return known[name]
