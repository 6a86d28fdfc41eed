"""Repository names and request paths: what the Git server accepts before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import proc
from engine.gitserver.errors import GitServerError, RepoPathError
from engine.gitserver.repos import check_repo_name, find_repo, list_repos, parse_request_path


@pytest.mark.parametrize("name", ["shop", "a", "shop-app", "shop_app", "shop.v2", "0day"])
def test_plain_names_are_accepted(name: str) -> None:
    assert check_repo_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Shop", ".hidden", "-flag", "a/b", "a..b", "..", "shop.git", "a b", "ü", "x" * 101, None]
)
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(GitServerError, match="invalid repository name"):
        check_repo_name(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "repo", "endpoint"),
    [
        ("/shop.git/info/refs?service=git-upload-pack", "shop", "info/refs"),
        ("/shop.git/git-upload-pack", "shop", "git-upload-pack"),
        ("/shop.git/git-receive-pack", "shop", "git-receive-pack"),
    ],
)
def test_smart_http_paths_name_their_repository(raw: str, repo: str, endpoint: str) -> None:
    target = parse_request_path(raw)

    assert (target.repo, target.endpoint) == (repo, endpoint)
    assert target.path_info == f"/{repo}.git/{endpoint}"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("/../shop.git/git-upload-pack", 400),
        ("/shop.git/../x/git-upload-pack", 400),
        ("/%2e%2e/shop.git/git-upload-pack", 400),
        ("/shop%2Egit/git-upload-pack", 400),
        ("/a%2fb.git/git-upload-pack", 400),
        ("//shop.git/git-upload-pack", 400),
        ("/shop.git//git-upload-pack", 400),
        ("/shop.git/git-upload-pack/", 400),
        ("shop.git/git-upload-pack", 400),
        ("http://host/shop.git/git-upload-pack", 400),
        ("/shop.git\\git-upload-pack", 400),
        ("/sh\x00op.git/git-upload-pack", 400),
        ("/SHOP.git/git-upload-pack", 400),
        ("/.git/git-upload-pack", 400),
        ("/shop/git-upload-pack", 404),
        ("/shop.git/HEAD", 404),
        ("/shop.git/objects/pack/x.pack", 404),
        ("/shop.git", 404),
    ],
)
def test_path_tricks_and_other_paths_are_refused(raw: str, status: int) -> None:
    with pytest.raises(RepoPathError) as caught:
        parse_request_path(raw)

    assert caught.value.status == status


def bare(path: Path) -> Path:
    assert proc.run(["git", "init", "-q", "--bare", str(path)]).ok
    return path


def test_find_repo_follows_symlinks_only_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    bare(root / "shop.git")
    (root / "alias.git").symlink_to(root / "shop.git")
    (root / "escape.git").symlink_to(bare(tmp_path / "elsewhere.git"))
    (root / "loop.git").symlink_to(root / "loop.git")
    (root / "rootlink.git").symlink_to(root)
    (root / "plain.git").mkdir()

    assert find_repo(root, "shop") == root / "shop.git"
    assert find_repo(root, "alias") == root / "alias.git"
    for name in ["escape", "loop", "rootlink", "plain", "missing", "../elsewhere"]:
        assert find_repo(root, name) is None, name


def test_list_repos_names_served_repositories(tmp_path: Path) -> None:
    bare(tmp_path / "shop.git")
    bare(tmp_path / "docs.git")
    bare(tmp_path / ".seed-x-1234")
    (tmp_path / "notes.txt").write_text("x")

    assert list_repos(tmp_path) == ["docs", "shop"]
    assert list_repos(tmp_path / "missing") == []
