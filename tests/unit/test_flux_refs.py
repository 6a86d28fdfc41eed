"""GitRepository refs: which one wins, the revision strings Flux writes, and which pushes concern a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.gitops.controller import Timing
from engine.gitops.fetch import Ref
from engine.gitops.flux.errors import FluxError
from engine.gitops.flux.refs import GitRef, check_url, is_pushed_repository
from engine.gitops.flux.source import GitRepositoryController
from engine.gitops.flux.storage import Storage

SHA = "a" * 40


@pytest.mark.parametrize(
    ("spec", "revision"),
    [
        (None, f"master@sha1:{SHA}"),
        ({}, f"master@sha1:{SHA}"),
        ({"branch": "main"}, f"main@sha1:{SHA}"),
        ({"tag": "v1.2.3"}, f"v1.2.3@sha1:{SHA}"),
        ({"name": "refs/heads/main"}, f"refs/heads/main@sha1:{SHA}"),
        ({"commit": SHA}, f"sha1:{SHA}"),
        ({"branch": "main", "commit": SHA}, f"main@sha1:{SHA}"),
        ({"branch": "main", "tag": "v1"}, f"v1@sha1:{SHA}"),
    ],
)
def test_revision_strings(spec: dict | None, revision: str) -> None:
    assert GitRef.parse(spec).revision(SHA) == revision


def test_the_winner_is_commit_then_name_then_tag_then_branch() -> None:
    assert GitRef.parse({"branch": "main", "commit": SHA}).fetch_ref() == Ref(branch="main", commit=SHA)
    assert GitRef.parse({"tag": "v1", "name": "refs/heads/dev"}).fetch_ref() == Ref(branch="dev")
    assert GitRef.parse({"branch": "main", "tag": "v1"}).fetch_ref() == Ref(tag="v1")
    assert GitRef.parse(None).fetch_ref() == Ref(branch="master")


def test_refs_the_embedded_controller_cannot_follow_are_errors() -> None:
    with pytest.raises(FluxError, match="semver"):
        GitRef.parse({"semver": ">=1.0.0"}).fetch_ref()
    with pytest.raises(FluxError, match="refs/pull/1/head"):
        GitRef.parse({"name": "refs/pull/1/head"}).fetch_ref()
    with pytest.raises(FluxError, match=r"spec\.ref"):
        GitRef.parse("main")


def test_a_source_follows_pushes_to_its_own_ref_only() -> None:
    assert GitRef.parse({"branch": "main"}).follows("refs/heads/main")
    assert not GitRef.parse({"branch": "main"}).follows("refs/heads/dev")
    assert GitRef.parse({"tag": "v1"}).follows("refs/tags/v1")
    assert not GitRef.parse({"commit": SHA}).follows("refs/heads/main")
    assert GitRef.parse({"semver": "1.x"}).follows("refs/tags/v1.1.0")


def test_urls_must_be_http_https_or_ssh() -> None:
    assert check_url("http://127.0.0.1:8080/shop.git") == "http://127.0.0.1:8080/shop.git"
    for bad in ("git@github.com:org/repo.git", "", None, "file:///repo"):
        with pytest.raises(FluxError) as caught:
            check_url(bad)
        assert caught.value.reason == "URLInvalid"


def test_a_push_matches_the_repository_on_this_server_with_or_without_dot_git() -> None:
    servers = ["http://127.0.0.1:8080"]
    assert is_pushed_repository("http://127.0.0.1:8080/shop.git", "shop", servers)
    assert is_pushed_repository("http://127.0.0.1:8080/shop", "shop", servers)
    assert not is_pushed_repository("http://127.0.0.1:9999/shop.git", "shop", servers)
    assert not is_pushed_repository("http://127.0.0.1:8080/shop-old.git", "shop", servers)
    assert is_pushed_repository("http://10.0.0.1:8080/shop.git", "shop", ["10.0.0.1:8080"])
    assert is_pushed_repository("http://anywhere:1/shop.git", "shop", [])


class _Informer:
    def __init__(self, objects: list[dict]) -> None:
        self._objects = objects

    def objects(self) -> list[dict]:
        return self._objects


def test_a_push_queues_the_sources_that_follow_the_pushed_ref(tmp_path: Path) -> None:
    def source(name: str, url: str, **spec: object) -> dict:
        return {"metadata": {"name": name, "namespace": "flux-system"}, "spec": {"url": url, **spec}}

    server = "http://127.0.0.1:8080"
    controller = GitRepositoryController(None, Timing(), tmp_path, Storage(tmp_path), [server])  # type: ignore[arg-type]
    controller.informer = _Informer(  # type: ignore[assignment]
        [
            source("main", f"{server}/shop.git", ref={"branch": "main"}),
            source("bare", f"{server}/shop", ref={"branch": "main"}),
            source("dev", f"{server}/shop.git", ref={"branch": "dev"}),
            source("other-repo", f"{server}/blog.git", ref={"branch": "main"}),
            source("other-server", "http://127.0.0.1:9/shop.git", ref={"branch": "main"}),
            source("suspended", f"{server}/shop.git", ref={"branch": "main"}, suspend=True),
        ]
    )
    assert list(controller.keys_for_push("shop", "refs/heads/main")) == [
        ("flux-system", "main"),
        ("flux-system", "bare"),
    ]
