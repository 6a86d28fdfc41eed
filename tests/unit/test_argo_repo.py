"""Repository credentials from declarative Secrets, and resolving a targetRevision from `git ls-remote`."""

from __future__ import annotations

import base64

import pytest

from engine.gitops.argo.repo import (
    RepoError,
    credentials_for,
    ls_remote,
    matches_push,
    normalize_url,
    parse_ls_remote,
    repo_name,
    resolve,
)
from engine.gitops.fetch import Credentials

A, B, C, T = "a" * 40, "b" * 40, "c" * 40, "d" * 40

LS_REMOTE = f"""ref: refs/heads/main\tHEAD
{A}\tHEAD
{B}\trefs/heads/feature
{A}\trefs/heads/main
{T}\trefs/tags/v1.0
{C}\trefs/tags/v1.0^{{}}
{B}\trefs/tags/light
"""


def secret(kind: str, url: str, user: str = "deploy", password: str = "pw", **data: str) -> dict:
    values = {"type": "git", "url": url, "username": user, "password": password, **data}
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return {"metadata": {"labels": {"argocd.argoproj.io/secret-type": kind}}, "data": encoded}


def test_urls_compare_without_case_trailing_slash_or_dot_git() -> None:
    assert normalize_url("HTTP://Git.Lab/Shop.git/") == normalize_url("http://git.lab/shop")
    assert repo_name("http://127.0.0.1:9000/shop.git") == "shop"
    assert repo_name("http://127.0.0.1:9000/team/shop/") == "shop"


def test_a_repository_secret_matches_its_url_exactly() -> None:
    secrets = [secret("repository", "http://git.lab/other.git", "x"), secret("repository", "http://git.lab/shop")]
    assert credentials_for("http://git.lab/shop.git", secrets) == Credentials("deploy", "pw")
    assert credentials_for("http://git.lab/nothing.git", secrets) is None


def test_credential_templates_match_by_prefix_and_the_longest_wins() -> None:
    secrets = [secret("repo-creds", "http://git.lab", "wide"), secret("repo-creds", "http://git.lab/team", "narrow")]
    assert credentials_for("http://git.lab/team/shop.git", secrets) == Credentials("narrow", "pw")
    assert credentials_for("http://git.lab/shop.git", secrets) == Credentials("wide", "pw")


def test_secrets_of_other_types_or_without_url_are_ignored() -> None:
    helm = secret("repository", "http://git.lab/shop", type="helm")
    assert credentials_for("http://git.lab/shop", [helm, {"metadata": {}, "data": {"url": "%%%"}}]) is None
    written = {
        "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"url": "http://git.lab/shop", "username": "u", "password": "p"},
    }
    assert credentials_for("http://git.lab/shop", [written]) == Credentials("u", "p")


def test_ls_remote_output_resolves_head_branches_tags_and_shas() -> None:
    refs = parse_ls_remote(LS_REMOTE)
    assert refs.head == "refs/heads/main"
    assert resolve(refs, "HEAD") == A
    assert resolve(refs, None) == A
    assert resolve(refs, "feature") == B
    assert resolve(refs, "refs/heads/feature") == B
    assert resolve(refs, "v1.0") == C, "an annotated tag resolves to its commit"
    assert resolve(refs, "light") == B
    assert resolve(refs, "f" * 40) == "f" * 40
    assert resolve(refs, "nope") is None


def test_a_push_refreshes_apps_that_follow_the_pushed_ref() -> None:
    assert matches_push("HEAD", "refs/heads/main")
    assert matches_push("", "refs/heads/feature")
    assert matches_push("main", "refs/heads/main")
    assert not matches_push("main", "refs/heads/feature")
    assert matches_push("v1.0", "refs/tags/v1.0")
    assert not matches_push(A, "refs/heads/main")
    assert not matches_push("HEAD", "refs/tags/v1.0")


def test_only_http_https_and_ssh_repositories_are_listed() -> None:
    for url in ("ext::sh -c touch% /tmp/x", "file:///etc", "/srv/git/shop.git", "http://[::1"):
        with pytest.raises(RepoError, match="is not an http, https or ssh URL"):
            ls_remote(url, None)
    assert repo_name("http://[::1") == ""
