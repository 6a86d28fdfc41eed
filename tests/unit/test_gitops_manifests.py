"""The pinned GitOps releases and their download cache, with a local HTTP server standing in for GitHub."""

from __future__ import annotations

import shlex
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine import paths, proc
from engine.errors import DriftlabError
from engine.gitops import manifests
from engine.gitops.manifests import MIRROR_ENV, cache_path, fetch, forget, record_path, sha256_of, source_url
from engine.gitops.releases import Release, parse_releases, release, releases

MANIFEST = b"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"
PATH = "/fluxcd/flux2/releases/download/v2.9.4/install.yaml"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: FakeGitHub = self.server  # type: ignore[assignment]
        server.requests.append(self.path)
        status, body = server.routes.get(self.path, (404, b"Not Found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeGitHub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRIFTLAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "home"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def flux(url: str, sha256: str | None = None) -> Release:
    return Release(
        name="flux",
        version="v2.9.4",
        url=url,
        namespace="flux-system",
        apply="client-side",
        workloads=({"kind": "Deployment", "name": "source-controller"},),
        sha256=sha256,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cache_files() -> list[str]:
    root = paths.gitops_manifests_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- releases ---------------------------------------------------------------------------------------------------


def test_shipped_releases_pin_flux_and_argocd() -> None:
    shipped = releases()
    assert set(shipped) == {"flux", "argocd"}
    assert release("flux").url == "https://github.com/fluxcd/flux2/releases/download/v2.9.4/install.yaml"
    assert release("flux").apply == "client-side"
    assert [w.name for w in release("flux").workloads] == [
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    ]
    argocd = release("argocd")
    assert argocd.url == "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml"
    assert (argocd.namespace, argocd.apply, argocd.create_namespace) == ("argocd", "server-side", True)
    assert release("flux").create_namespace is False
    assert [w.ref for w in argocd.workloads if w.kind == "StatefulSet"] == ["sts/argocd-application-controller"]
    assert len([w for w in argocd.workloads if w.kind == "Deployment"]) == 6


def test_unknown_release_names_the_known_ones() -> None:
    with pytest.raises(DriftlabError, match="no pinned release for 'helm': use one of argocd, flux"):
        release("helm")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "expected a list of releases"),
        ("- name: flux\n", "release #1: version: Field required"),
        ("- [1, 2]\n", "release #1"),
        (": :", "not valid YAML"),
    ],
)
def test_malformed_releases_file_is_reported(text: str, message: str) -> None:
    with pytest.raises(DriftlabError, match=message):
        parse_releases(text, "releases.yaml")


def test_release_entries_are_validated() -> None:
    entry = (
        "- name: flux\n  version: v1\n  url: https://example.com/install.yaml\n  namespace: flux-system\n"
        "  apply: client-side\n  workloads: [{kind: Deployment, name: a}]\n"
    )
    assert parse_releases(entry)["flux"].mirror_path == "flux/v1/install.yaml"
    with pytest.raises(DriftlabError, match="sha256"):
        parse_releases(entry + "  sha256: abc\n")
    with pytest.raises(DriftlabError, match="apply"):
        parse_releases(entry.replace("client-side", "sideways"))
    with pytest.raises(DriftlabError, match="http"):
        parse_releases(entry.replace("https://example.com", "ftp://example.com"))
    with pytest.raises(DriftlabError, match="listed twice"):
        parse_releases(entry + entry)


def test_cache_folder_follows_driftlab_home(home: Path) -> None:
    assert paths.gitops_manifests_dir() == home / "cache" / "gitops"
    assert cache_path(flux("https://example.com/x/install.yaml")) == home / "cache/gitops/flux/v2.9.4/install.yaml"


# -- downloading ------------------------------------------------------------------------------------------------


def test_download_is_cached_with_its_checksum(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    lines: list[str] = []

    path = fetch(flux(github.base + PATH), progress=lines.append)

    assert path.read_bytes() == MANIFEST
    assert record_path(flux(github.base + PATH)).read_text() == f"{sha256_of(MANIFEST)}  install.yaml\n"
    assert cache_files() == ["flux/v2.9.4/install.yaml", "flux/v2.9.4/install.yaml.sha256"]
    assert lines[0] == f"flux: downloading {github.base}{PATH}"
    assert lines[-1].startswith("flux: downloaded install.yaml")

    again: list[str] = []
    assert fetch(flux(github.base + PATH), progress=again.append) == path
    assert github.requests == [PATH]
    assert again == [f"flux: using cached install.yaml (sha256 {sha256_of(MANIFEST)[:12]}…)"]


def test_download_matching_the_pin_is_accepted(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    assert fetch(flux(github.base + PATH, sha256_of(MANIFEST))).read_bytes() == MANIFEST


def test_not_found_says_how_to_provide_the_file_offline(github: FakeGitHub) -> None:
    pinned = flux(github.base + PATH)
    with pytest.raises(DriftlabError) as raised:
        fetch(pinned)

    message = str(raised.value)
    assert f"could not download {github.base}{PATH}: HTTP 404 Not Found" in message
    assert f"curl -fL --retry 3 --create-dirs -o flux/v2.9.4/install.yaml {github.base}{PATH}" in message
    assert f"then copy flux/v2.9.4/install.yaml to {cache_path(pinned)}" in message
    assert f"set {MIRROR_ENV} to it" in message
    assert cache_files() == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_offline_instructions_work_as_written(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = flux(github.base + PATH)
    with pytest.raises(DriftlabError) as raised:
        fetch(pinned)
    curl = next(line.strip() for line in str(raised.value).splitlines() if line.strip().startswith("curl "))
    github.routes[PATH] = (200, MANIFEST)
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()

    assert proc.run(shlex.split(curl), cwd=elsewhere).ok
    monkeypatch.setenv(MIRROR_ENV, str(elsewhere))

    assert fetch(pinned).read_bytes() == MANIFEST
    assert github.requests == [PATH, PATH]


def test_connection_refused_names_the_reason() -> None:
    url = f"http://127.0.0.1:{closed_port()}{PATH}"
    with pytest.raises(DriftlabError, match=r"could not download .*: \[Errno 111\] Connection refused") as raised:
        fetch(flux(url))
    assert "curl -fL" in str(raised.value)
    assert cache_files() == []


def test_a_silent_server_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}{PATH}"
        with pytest.raises(DriftlabError, match=r"could not download .*(timed out|no answer within 0.2s)"):
            fetch(flux(url), timeout=0.2)
    assert cache_files() == []


def test_checksum_mismatch_of_a_pinned_release_saves_nothing(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST + b"# changed upstream\n")
    with pytest.raises(DriftlabError) as raised:
        fetch(flux(github.base + PATH, sha256_of(MANIFEST)))

    message = str(raised.value)
    assert "does not match the pinned checksum" in message
    assert f"expected sha256 {sha256_of(MANIFEST)}" in message
    assert "Nothing was saved" in message
    assert cache_files() == []


def test_an_error_page_is_not_cached_as_a_manifest(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, b"<html><body>Please log in to the hotel wifi</body></html>")
    with pytest.raises(DriftlabError, match="is not a Kubernetes manifest"):
        fetch(flux(github.base + PATH))
    assert cache_files() == []


# -- the cache --------------------------------------------------------------------------------------------------


def test_a_tampered_cache_file_is_refused_until_refetched(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    pinned = flux(github.base + PATH)
    path = fetch(pinned)
    path.write_bytes(MANIFEST.replace(b"flux-system", b"evil"))

    with pytest.raises(DriftlabError) as raised:
        fetch(pinned)
    message = str(raised.value)
    assert f"the cached {path} has changed since it was downloaded" in message
    assert f"recorded sha256 {sha256_of(MANIFEST)}" in message
    assert f"rm {path} {record_path(pinned)}" in message

    forget(pinned)
    assert fetch(pinned).read_bytes() == MANIFEST
    assert github.requests == [PATH, PATH]


def test_a_damaged_checksum_record_is_refused(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    pinned = flux(github.base + PATH)
    fetch(pinned)
    record_path(pinned).write_text("")
    with pytest.raises(DriftlabError, match="has changed since it was downloaded"):
        fetch(pinned)


def test_a_cached_file_that_no_longer_matches_a_new_pin_is_refused(github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    fetch(flux(github.base + PATH))
    with pytest.raises(DriftlabError, match="does not match the pinned checksum"):
        fetch(flux(github.base + PATH, "0" * 64))


def test_a_file_put_at_the_cache_path_by_hand_is_recorded() -> None:
    unreachable = flux(f"http://127.0.0.1:{closed_port()}{PATH}")
    cache_path(unreachable).parent.mkdir(parents=True)
    cache_path(unreachable).write_bytes(MANIFEST)

    assert fetch(unreachable).read_bytes() == MANIFEST
    assert record_path(unreachable).read_text().split()[0] == sha256_of(MANIFEST)


def test_a_file_put_by_hand_must_match_the_pin() -> None:
    pinned = flux(f"http://127.0.0.1:{closed_port()}{PATH}", "0" * 64)
    cache_path(pinned).parent.mkdir(parents=True)
    cache_path(pinned).write_bytes(MANIFEST)
    with pytest.raises(DriftlabError, match="does not match the pinned checksum"):
        fetch(pinned)
    assert not record_path(pinned).exists()


# -- offline and mirrors ----------------------------------------------------------------------------------------


def test_offline_file_is_verified_and_cached(tmp_path: Path) -> None:
    unreachable = flux(f"http://127.0.0.1:{closed_port()}{PATH}", sha256_of(MANIFEST))
    given = tmp_path / "downloaded-elsewhere.yaml"
    given.write_bytes(MANIFEST)
    lines: list[str] = []

    path = fetch(unreachable, offline_file=given, progress=lines.append)

    assert path == cache_path(unreachable)
    assert path.read_bytes() == MANIFEST
    assert lines == [f"flux: using {given} (sha256 {sha256_of(MANIFEST)[:12]}…)"]
    assert fetch(unreachable) == path


def test_offline_file_replaces_a_cached_copy(tmp_path: Path, github: FakeGitHub) -> None:
    github.routes[PATH] = (200, MANIFEST)
    pinned = flux(github.base + PATH)
    fetch(pinned)
    newer = tmp_path / "install.yaml"
    newer.write_bytes(MANIFEST + b"---\napiVersion: v1\nkind: ServiceAccount\n")

    assert fetch(pinned, offline_file=newer).read_bytes() == newer.read_bytes()
    assert fetch(pinned).read_bytes() == newer.read_bytes()


def test_offline_file_must_exist_and_match_the_pin(tmp_path: Path) -> None:
    pinned = flux("https://github.com" + PATH, "0" * 64)
    with pytest.raises(DriftlabError, match=r"the offline file .*missing\.yaml does not exist") as raised:
        fetch(pinned, offline_file=tmp_path / "missing.yaml")
    assert f"curl -fL --retry 3 --create-dirs -o flux/v2.9.4/install.yaml https://github.com{PATH}" in str(raised.value)

    wrong = tmp_path / "install.yaml"
    wrong.write_bytes(MANIFEST)
    with pytest.raises(DriftlabError, match=f"{wrong} does not match the pinned checksum"):
        fetch(pinned, offline_file=wrong)
    assert cache_files() == []


def test_mirror_folder_replaces_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mirror"
    (folder / "flux" / "v2.9.4").mkdir(parents=True)
    (folder / "flux" / "v2.9.4" / "install.yaml").write_bytes(MANIFEST)
    monkeypatch.setenv(MIRROR_ENV, str(folder))
    unreachable = flux(f"http://127.0.0.1:{closed_port()}{PATH}")

    assert fetch(unreachable).read_bytes() == MANIFEST
    assert record_path(unreachable).exists()


def test_mirror_folder_without_the_file_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(DriftlabError) as raised:
        fetch(flux("https://github.com" + PATH))
    message = str(raised.value)
    assert f"{MIRROR_ENV} is the folder {tmp_path}, but {tmp_path}/flux/v2.9.4/install.yaml does not exist" in message
    assert "curl -fL" in message


def test_mirror_url_replaces_github(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    github.routes["/mirror/flux/v2.9.4/install.yaml"] = (200, MANIFEST)
    monkeypatch.setenv(MIRROR_ENV, github.base + "/mirror/")
    pinned = flux("https://github.com" + PATH)

    assert source_url(pinned) == github.base + "/mirror/flux/v2.9.4/install.yaml"
    assert fetch(pinned).read_bytes() == MANIFEST
    assert github.requests == ["/mirror/flux/v2.9.4/install.yaml"]


def test_mirror_url_failure_names_the_mirror(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV, github.base)
    with pytest.raises(DriftlabError, match=f"could not download {github.base}/flux/v2.9.4/install.yaml \\(from"):
        fetch(flux("https://github.com" + PATH))


def test_unwritable_cache_is_a_clear_error(github: FakeGitHub, home: Path) -> None:
    github.routes[PATH] = (200, MANIFEST)
    home.mkdir(parents=True, exist_ok=True)
    (home / "cache").write_text("a file where the cache folder should be")
    with pytest.raises(
        DriftlabError, match=r"cannot (write|remove) .*home/cache/gitops.*set DRIFTLAB_HOME to a writable folder"
    ):
        manifests.fetch(flux(github.base + PATH))
