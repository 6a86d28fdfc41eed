"""Argo CD's view of a Git repository: its credentials, and what a target revision points to right now.

Credentials come from declarative repository Secrets (label `argocd.argoproj.io/secret-type: repository`, keys
`url`, `username`, `password`, `type: git`) whose url is the app's repoURL, or from credential templates
(`secret-type: repo-creds`) whose url is a prefix of it; the longest template wins. URLs compare as Argo CD
compares them: case-insensitive, without a trailing `/` or `.git`.

Like the repo-server, every refresh first lists the remote's refs (`git ls-remote`) and resolves
`targetRevision` (HEAD, a branch, a tag or a commit SHA) to a commit; the repository is fetched only when that
commit is new, so a refresh with nothing new costs one small request.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...errors import DriftlabError
from ..fetch import GIT_TIMEOUT, Credentials, FetchError, run_git

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
REPOSITORY = "repository"
REPO_CREDS = "repo-creds"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA_RE = re.compile(r"^[0-9a-f]{7,39}$")


class RepoError(DriftlabError):
    """The repository could not be listed, or the revision does not exist in it."""


@dataclass(frozen=True)
class RemoteRefs:
    """The refs `git ls-remote` lists: ref name to commit, and the branch HEAD points to."""

    refs: dict[str, str] = field(default_factory=dict)
    head: str | None = None


def normalize_url(url: str) -> str:
    """The form Argo CD compares repository URLs in."""
    text = url.strip().lower().rstrip("/")
    return text.removesuffix(".git")


def repo_name(url: str) -> str:
    """The last path segment of a repository URL without `.git`: the lab Git server's repository name."""
    try:
        path = urllib.parse.urlsplit(url.strip()).path.rstrip("/")
    except ValueError:
        return ""
    return path.rsplit("/", 1)[-1].removesuffix(".git")


def check_url(url: str) -> None:
    """Only the transports a repo-server serves: http, https and ssh (never `file://` or `ext::`)."""
    try:
        parsed = urllib.parse.urlsplit(url.strip())
    except ValueError:
        parsed = urllib.parse.SplitResult("", "", "", "", "")
    if parsed.scheme not in ("http", "https", "ssh") or not parsed.netloc:
        raise RepoError(f"repository not accessible: {url!r} is not an http, https or ssh URL")


def credentials_for(url: str, secrets: Iterable[dict]) -> Credentials | None:
    """The credentials Argo CD would use for `url`: an exact repository Secret first, else the longest template."""
    wanted = normalize_url(url)
    exact: Credentials | None = None
    best: tuple[int, Credentials] | None = None
    for secret in secrets:
        data = secret_data(secret)
        kind = ((secret.get("metadata") or {}).get("labels") or {}).get(SECRET_TYPE_LABEL)
        if data.get("type", "git") != "git" or not data.get("url"):
            continue
        found = Credentials(data.get("username", ""), data.get("password", ""))
        candidate = normalize_url(data["url"])
        if kind == REPOSITORY and candidate == wanted and exact is None:
            exact = found
        elif kind == REPO_CREDS and wanted.startswith(candidate) and (best is None or len(candidate) > best[0]):
            best = (len(candidate), found)
    if exact is not None:
        return exact if exact.username or exact.password else (best[1] if best else None)
    return best[1] if best else None


def secret_data(secret: dict) -> dict[str, str]:
    """A Secret's values as text (`data` decoded, `stringData` as written); undecodable values are skipped."""
    values: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            values[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    for key, value in (secret.get("stringData") or {}).items():
        values[str(key)] = str(value)
    return values


def ls_remote(url: str, credentials: Credentials | None, timeout: float = GIT_TIMEOUT) -> RemoteRefs:
    """The remote's refs and HEAD, listed with the given credentials (passed through the environment only)."""
    check_url(url)
    try:
        result = run_git(["ls-remote", "--symref", url], credentials, timeout)
    except FetchError as err:
        raise RepoError(f"failed to list refs: {err}") from None
    if not result.ok:
        raise RepoError(f"failed to list refs: {_reason(result.stderr)}")
    return parse_ls_remote(result.stdout)


def _reason(stderr: str) -> str:
    if "Authentication failed" in stderr or "401" in stderr or "could not read Username" in stderr:
        return "authentication required"
    if "403" in stderr:
        return "authorization failed"
    if "not found" in stderr.lower() or "404" in stderr:
        return "repository not found"
    lines = [line.removeprefix("fatal: ").strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "git ls-remote failed"


def parse_ls_remote(text: str) -> RemoteRefs:
    refs: dict[str, str] = {}
    head: str | None = None
    for line in text.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: ") and name == "HEAD":
            head = left.removeprefix("ref: ").strip()
        elif SHA_RE.match(left.strip()) and name:
            refs[name.strip()] = left.strip()
    return RemoteRefs(refs, head)


def resolve(refs: RemoteRefs, revision: str | None) -> str | None:
    """The commit `revision` names among `refs`; a full SHA is taken as is; None when it names nothing listed.

    HEAD (or nothing) is the remote's HEAD; otherwise a full ref name, then a branch, then a tag (peeled to its
    commit when annotated).
    """
    wanted = (revision or "").strip() or "HEAD"
    if SHA_RE.match(wanted):
        return wanted
    if wanted == "HEAD":
        return refs.refs.get("HEAD") or (refs.refs.get(refs.head) if refs.head else None)
    for name in (wanted, f"refs/heads/{wanted}", f"refs/tags/{wanted}"):
        peeled = refs.refs.get(f"{name}^{{}}")
        if peeled or name in refs.refs:
            return peeled or refs.refs[name]
    return None


def is_short_sha(revision: str | None) -> bool:
    return bool(revision) and bool(SHORT_SHA_RE.match(str(revision)))


def matches_push(target_revision: str | None, ref: str) -> bool:
    """Whether a push to `ref` may move what `target_revision` names (HEAD follows any branch push)."""
    wanted = (target_revision or "").strip() or "HEAD"
    if SHA_RE.match(wanted):
        return False
    if wanted == "HEAD":
        return ref.startswith("refs/heads/")
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return wanted in (ref, short)
