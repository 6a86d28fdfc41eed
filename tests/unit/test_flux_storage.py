"""Artifact storage: a real Git repository archived, named as Flux names it, verified and unpacked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.gitops.flux.errors import FluxError
from engine.gitops.flux.storage import Artifact, Storage

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], env=ENV, check=True, capture_output=True, text=True).stdout


def commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "change")
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    return path


def test_an_artifact_is_named_and_digested_as_flux_does(repo: Path, tmp_path: Path) -> None:
    sha = commit(repo, {"apps/a.yaml": "kind: ConfigMap\n"})
    storage = Storage(tmp_path / "storage")
    artifact = storage.archive("GitRepository", "flux-system", "shop", f"main@sha1:{sha}", repo, sha)
    assert artifact.path == f"gitrepository/flux-system/shop/{sha}.tar.gz"
    assert artifact.url == f"http://source-controller.flux-system.svc.cluster.local./{artifact.path}"
    assert artifact.digest.startswith("sha256:") and artifact.size == storage.local_path(artifact).stat().st_size
    assert Artifact.from_status(artifact.to_status()) == artifact

    tree = storage.extract(artifact, tmp_path / "tree")
    assert (tree / "apps" / "a.yaml").read_text() == "kind: ConfigMap\n"


def test_a_tampered_artifact_is_refused(repo: Path, tmp_path: Path) -> None:
    sha = commit(repo, {"a.yaml": "a"})
    storage = Storage(tmp_path / "storage")
    artifact = storage.archive("GitRepository", "ns", "r", "r", repo, sha)
    storage.local_path(artifact).write_bytes(b"not the artifact")
    with pytest.raises(FluxError, match="digest"):
        storage.extract(artifact, tmp_path / "tree")


def test_an_empty_tree_unpacks_to_an_empty_folder(repo: Path, tmp_path: Path) -> None:
    sha = commit(repo, {})
    storage = Storage(tmp_path / "storage")
    artifact = storage.archive("GitRepository", "ns", "r", "r", repo, sha)
    tree = storage.extract(artifact, tmp_path / "tree")
    assert [p for p in tree.iterdir() if p.name != "pax_global_header"] == []


def test_old_artifacts_are_collected_and_deleting_removes_all(repo: Path, tmp_path: Path) -> None:
    storage = Storage(tmp_path / "storage")
    artifacts = [storage.archive("GitRepository", "ns", "r", str(i), repo, commit(repo, {"f": str(i)})) for i in "123"]
    storage.collect(artifacts[-1])
    assert [storage.exists(a) for a in artifacts] == [False, True, True]
    storage.remove_all("GitRepository", "ns", "r")
    assert not storage.exists(artifacts[-1])


def test_malformed_statuses_have_no_artifact_and_paths_stay_inside_the_storage(tmp_path: Path) -> None:
    assert Artifact.from_status(None) is None
    assert Artifact.from_status({"path": "x"}) is None
    outside = Artifact("../../etc/passwd", "", "r", "sha256:0", 0, "")
    assert not Storage(tmp_path).exists(outside)
    with pytest.raises(FluxError, match="outside"):
        Storage(tmp_path).extract(outside, tmp_path / "tree")
