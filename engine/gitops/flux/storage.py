"""source-controller's artifact storage: one tarball per source revision, which the kustomize-controller unpacks.

An artifact lives at `<kind>/<namespace>/<name>/<commit>.tar.gz` under the storage folder, and the status names it
as real Flux does: that `path`, a `url` on the source-controller Service, its `sha256:` digest and size. Only the
current artifact of each source is kept; deleting the source removes its folder.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import proc
from ..events import now
from . import status
from .errors import FluxError

HOST = "source-controller.flux-system.svc.cluster.local."
ARCHIVE_TIMEOUT = 60.0
KEEP = 2


@dataclass(frozen=True)
class Artifact:
    path: str
    url: str
    revision: str
    digest: str
    size: int
    last_update_time: str

    @classmethod
    def from_status(cls, value: Any) -> Artifact | None:
        """The artifact a status records, or None when absent or malformed."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(
                path=str(value["path"]),
                url=str(value.get("url") or ""),
                revision=str(value["revision"]),
                digest=str(value["digest"]),
                size=int(value.get("size") or 0),
                last_update_time=str(value.get("lastUpdateTime") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_status(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "lastUpdateTime": self.last_update_time,
            "path": self.path,
            "revision": self.revision,
            "size": self.size,
            "url": self.url,
        }


def artifact_path(kind: str, namespace: str, name: str, file: str) -> str:
    return f"{kind.lower()}/{namespace}/{name}/{file}"


def sha256_digest(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class Storage:
    """The storage folder shared by the source and kustomize controllers of one agent."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def local_path(self, artifact: Artifact) -> Path:
        target = (self.root / artifact.path).resolve()
        if self.root.resolve() not in target.parents:
            raise FluxError(f"artifact path '{artifact.path}' is outside the storage", status.ARTIFACT_FAILED)
        return target

    def exists(self, artifact: Artifact) -> bool:
        try:
            return self.local_path(artifact).is_file()
        except FluxError:
            return False

    def archive(self, kind: str, namespace: str, name: str, revision: str, mirror: Path, sha: str) -> Artifact:
        """Store the tree of commit `sha` from the bare `mirror` as a tarball; the artifact that names it."""
        relative = artifact_path(kind, namespace, name, f"{sha}.tar.gz")
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        result = proc.run(
            ["git", "-C", str(mirror), "archive", "--format=tar.gz", "-o", str(partial), sha],
            timeout=ARCHIVE_TIMEOUT,
        )
        if not result.ok:
            partial.unlink(missing_ok=True)
            raise FluxError(
                f"unable to archive artifact to storage: {result.stderr.strip() or 'git archive failed'}",
                "ArchiveOperationFailed",
            )
        partial.replace(target)
        return Artifact(
            path=relative,
            url=f"http://{HOST}/{relative}",
            revision=revision,
            digest=sha256_digest(target),
            size=target.stat().st_size,
            last_update_time=now(),
        )

    def extract(self, artifact: Artifact, into: Path) -> Path:
        """Unpack the artifact into the folder `into`, after checking its digest; returns `into`."""
        file = self.local_path(artifact)
        if not file.is_file():
            raise FluxError(f"artifact '{artifact.path}' not found in storage", status.ARTIFACT_FAILED)
        if sha256_digest(file) != artifact.digest:
            raise FluxError(f"failed to verify artifact: computed digest of '{artifact.path}' differs from the status")
        into.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(file, "r:gz") as archive:
                archive.extractall(into, filter="data")
        except tarfile.ReadError:
            _extract_with_tar(file, into)  # an empty tree's archive holds only a header Python cannot read
        except (tarfile.TarError, OSError) as err:
            raise FluxError(f"failed to extract artifact '{artifact.path}': {err}", status.ARTIFACT_FAILED) from None
        return into

    def collect(self, artifact: Artifact, keep: int = KEEP) -> None:
        """Garbage-collect the source's older artifacts, keeping the newest few (a Kustomization may be reading
        the previous one while the new one is stored)."""
        current = self.local_path(artifact)
        others = sorted((f for f in current.parent.iterdir() if f != current), key=lambda f: f.stat().st_mtime)
        for old in others[: max(len(others) - (keep - 1), 0)]:
            old.unlink(missing_ok=True)

    def remove_all(self, kind: str, namespace: str, name: str) -> None:
        shutil.rmtree(self.root / kind.lower() / namespace / name, ignore_errors=True)


def _extract_with_tar(file: Path, into: Path) -> None:
    result = proc.run(["tar", "-xzf", str(file), "-C", str(into)], timeout=ARCHIVE_TIMEOUT)
    if not result.ok:
        raise FluxError(f"failed to extract artifact '{file.name}': {result.stderr.strip()}", status.ARTIFACT_FAILED)
