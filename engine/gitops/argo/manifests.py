"""Manifest generation, the repo-server's job: the objects an Application's source holds at a commit.

The source is a folder of a Git repository. When the folder has a kustomization file it is built with
kustomize (source type `Kustomize`); otherwise every YAML and JSON file in it is read, and with
`directory.recurse` every file below it too (source type `Directory`). Generated manifests are cached per
(repository, commit, path, options), a bounded cache like the repo-server's; a hard refresh drops an app's
entries. Messages of failures read like Argo CD's, e.g. `apps: app path does not exist`.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import proc
from ...errors import DriftlabError
from ..build import BuildError, PathNotFound, directory_objects, folder, has_kustomization, kustomize_build
from ..fetch import Credentials, FetchError, Ref, checkout, fetch
from .repo import RepoError, is_short_sha, ls_remote, resolve

JSON = dict[str, Any]
CACHE_ENTRIES = 64


class ManifestError(DriftlabError):
    """The manifests of a source could not be generated; the message is what Argo CD would show."""


@dataclass(frozen=True)
class Source:
    """The parts of `spec.source` this agent understands."""

    repo_url: str
    path: str = "."
    target_revision: str = "HEAD"
    recurse: bool = False

    @classmethod
    def of(cls, spec: JSON) -> Source:
        """The app's single source; ManifestError when it has none or one this agent cannot render."""
        if spec.get("sources") and not spec.get("source"):
            raise ManifestError("multiple sources (spec.sources) are not supported by the embedded Argo CD")
        source = spec.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("repoURL"), str) or not source["repoURL"]:
            raise ManifestError("spec.source.repoURL is required")
        if source.get("chart") or source.get("helm"):
            raise ManifestError("Helm sources are not supported by the embedded Argo CD; use a directory")
        directory = source.get("directory") if isinstance(source.get("directory"), dict) else {}
        return cls(
            repo_url=source["repoURL"],
            path=str(source.get("path") or "."),
            target_revision=str(source.get("targetRevision") or "HEAD"),
            recurse=directory.get("recurse") is True,
        )


@dataclass(frozen=True)
class Manifests:
    """What a source holds at one commit."""

    revision: str
    objects: tuple[JSON, ...]
    source_type: str


class ManifestGenerator:
    """Resolves revisions and renders sources, with a bare mirror per repository under `cache`."""

    def __init__(self, cache: Path) -> None:
        self.cache = Path(cache)
        self._rendered: OrderedDict[tuple[str, str, str, bool], Manifests] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, source: Source, revision: str | None, credentials: Credentials | None) -> str:
        """The commit `revision` (or the source's targetRevision) points to now."""
        wanted = revision or source.target_revision
        try:
            refs = ls_remote(source.repo_url, credentials)
        except RepoError as err:
            raise ManifestError(str(err)) from None
        found = resolve(refs, wanted)
        if found is None and is_short_sha(wanted):
            found = self._expand_short_sha(source, wanted, credentials)
        if found is None:
            raise ManifestError(f"unable to resolve '{wanted}' to a commit SHA")
        return found

    def cached(self, source: Source, sha: str) -> Manifests | None:
        """The rendering of `source` at `sha` when there is one (no Git, no credentials needed)."""
        key = (source.repo_url, sha, source.path, source.recurse)
        with self._lock:
            if key in self._rendered:
                self._rendered.move_to_end(key)
                return self._rendered[key]
        return None

    def generate(self, source: Source, sha: str, credentials: Credentials | None) -> Manifests:
        """The objects of `source` at commit `sha` (from the cache when rendered before)."""
        found = self.cached(source, sha)
        if found is not None:
            return found
        key = (source.repo_url, sha, source.path, source.recurse)
        mirror = self._mirror(source.repo_url)
        if not _has_commit(mirror, sha):
            self._fetch(source, mirror, sha, credentials)
        rendered = self._render(source, mirror, sha)
        with self._lock:
            self._rendered[key] = rendered
            while len(self._rendered) > CACHE_ENTRIES:
                self._rendered.popitem(last=False)
        return rendered

    def forget(self, repo_url: str) -> None:
        """Drop every rendering of a repository (a hard refresh)."""
        with self._lock:
            for key in [key for key in self._rendered if key[0] == repo_url]:
                del self._rendered[key]

    def _mirror(self, url: str) -> Path:
        return self.cache / "repos" / hashlib.sha256(url.encode()).hexdigest()[:16]

    def _fetch(self, source: Source, mirror: Path, sha: str, credentials: Credentials | None) -> None:
        try:
            fetch(source.repo_url, Ref(commit=sha), mirror, credentials)
        except FetchError as err:
            detail = "authentication required" if err.auth else str(err)
            raise ManifestError(f"failed to fetch {source.repo_url}: {detail}") from None

    def _expand_short_sha(self, source: Source, short: str, credentials: Credentials | None) -> str | None:
        mirror = self._mirror(source.repo_url)
        try:
            return fetch(source.repo_url, Ref(commit=short), mirror, credentials)
        except FetchError:
            return None

    def _render(self, source: Source, mirror: Path, sha: str) -> Manifests:
        self.cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="render-", dir=self.cache))
        try:
            root = checkout(mirror, sha, work / "tree")
            return Manifests(sha, *render(root, source))
        except FetchError as err:
            raise ManifestError(str(err)) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def render(root: Path, source: Source) -> tuple[tuple[JSON, ...], str]:
    """The objects of `source` in the checkout `root`, and the source type Argo CD would report."""
    try:
        directory = folder(root, source.path)
    except PathNotFound:
        raise ManifestError(f"{source.path}: app path does not exist") from None
    try:
        if has_kustomization(directory):
            return tuple(kustomize_build(root, source.path)), "Kustomize"
        return tuple(directory_objects(root, source.path, source.recurse)), "Directory"
    except BuildError as err:
        raise ManifestError(str(err)) from None


def _has_commit(mirror: Path, sha: str) -> bool:
    if not (mirror / "HEAD").is_file():
        return False
    return proc.run(["git", "-C", str(mirror), "cat-file", "-e", f"{sha}^{{commit}}"], timeout=30).ok
