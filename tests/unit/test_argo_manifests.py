"""Rendering a source folder the way Argo CD's repo-server does: directory, recursive directory, kustomize."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.gitops.argo.manifests import ManifestError, Source, render


def write(root: Path, relative: str, body: object) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))


def config_map(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def names(objects: tuple[dict, ...]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects)


def test_a_directory_reads_its_files_and_only_descends_with_recurse(tmp_path: Path) -> None:
    write(tmp_path, "apps/a.yaml", config_map("a"))
    write(tmp_path, "apps/sub/b.yml", config_map("b"))
    write(tmp_path, "apps/c.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}')
    write(tmp_path, "apps/notes.txt", "not a manifest")
    objects, kind = render(tmp_path, Source("http://git/x.git", "apps"))
    assert (names(objects), kind) == (["a", "c"], "Directory")
    objects, _ = render(tmp_path, Source("http://git/x.git", "apps", recurse=True))
    assert names(objects) == ["a", "b", "c"]


def test_a_folder_with_a_kustomization_is_built_with_kustomize(tmp_path: Path) -> None:
    write(tmp_path, "apps/a.yaml", config_map("a"))
    write(tmp_path, "apps/unlisted.yaml", config_map("unlisted"))
    write(tmp_path, "apps/kustomization.yaml", {"resources": ["a.yaml"], "namePrefix": "dev-"})
    objects, kind = render(tmp_path, Source("http://git/x.git", "apps"))
    assert (names(objects), kind) == (["dev-a"], "Kustomize")


def test_failures_read_like_argo_cds(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"^missing: app path does not exist$"):
        render(tmp_path, Source("http://git/x.git", "missing"))
    write(tmp_path, "apps/broken.yaml", "a: [unclosed")
    with pytest.raises(ManifestError, match="invalid YAML"):
        render(tmp_path, Source("http://git/x.git", "apps"))


def test_the_source_is_read_from_the_spec_with_argo_cds_defaults() -> None:
    assert Source.of({"source": {"repoURL": "http://git/x.git"}}) == Source("http://git/x.git", ".", "HEAD", False)
    spec = {"source": {"repoURL": "u", "path": "p", "targetRevision": "v1", "directory": {"recurse": True}}}
    assert Source.of(spec) == Source("u", "p", "v1", True)
    for bad, message in (
        ({}, "spec.source.repoURL is required"),
        ({"sources": [{"repoURL": "u"}]}, "multiple sources"),
        ({"source": {"repoURL": "u", "chart": "nginx"}}, "Helm sources are not supported"),
    ):
        with pytest.raises(ManifestError, match=message):
            Source.of(bad)
