"""The download cache of release manifests, so a real cluster can get Flux or Argo CD again without the network.

Layout, under `paths.gitops_manifests_dir()`: `<name>/<version>/<file>` (for example `flux/v2.9.4/install.yaml`)
and beside it `<file>.sha256` in sha256sum format, the checksum of what was downloaded. Every use checks the file
against that record and against the release's pinned sha256 when it has one, so a changed file is never applied.
A file put at the cache path by hand (no record yet) is taken as given and its checksum recorded.

`DRIFTLAB_GITOPS_MIRROR` replaces GitHub: a base URL (http, https or file) serving `<name>/<version>/<file>`, or a
folder holding the same layout, such as the cache folder copied from a machine with Internet access.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shlex
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .. import paths
from ..errors import DriftlabError
from .releases import Release

MIRROR_ENV = "DRIFTLAB_GITOPS_MIRROR"
DOWNLOAD_TIMEOUT = 30.0
MAX_BYTES = 64 << 20
_CHUNK = 1 << 16
_USER_AGENT = "driftlab (gitops manifests)"

Progress = Callable[[str], None]


def _ignore(_line: str) -> None:
    """The default progress sink."""


def cache_path(release: Release) -> Path:
    """Where the release's file is kept."""
    return paths.gitops_manifests_dir() / release.mirror_path


def record_path(release: Release) -> Path:
    """The recorded sha256 of the cached file."""
    path = cache_path(release)
    return path.with_name(path.name + ".sha256")


def mirror() -> str | None:
    """The value of DRIFTLAB_GITOPS_MIRROR, when set."""
    return os.environ.get(MIRROR_ENV, "").strip() or None


def source_url(release: Release) -> str:
    """The URL the release is downloaded from: the mirror's when a URL mirror is set, else the release's own."""
    base = mirror()
    if base and _is_url(base):
        return f"{base.rstrip('/')}/{release.mirror_path}"
    return release.url


def fetch(
    release: Release,
    *,
    offline_file: Path | None = None,
    progress: Progress = _ignore,
    timeout: float = DOWNLOAD_TIMEOUT,
) -> Path:
    """The verified cached manifest of a release, taken from `offline_file`, the cache, a mirror or the network."""
    if offline_file is not None:
        return _store_file(release, Path(offline_file).expanduser(), progress)
    if cache_path(release).exists():
        return _verified_cache(release, progress)
    base = mirror()
    if base and not _is_url(base):
        return _store_file(release, Path(base).expanduser() / release.mirror_path, progress, mirrored=True)
    return _download(release, source_url(release), progress, timeout)


def forget(release: Release) -> None:
    """Drop the cached file and its record, so the next fetch downloads it again."""
    _remove(record_path(release))
    _remove(cache_path(release))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https", "file")


def _verified_cache(release: Release, progress: Progress) -> Path:
    path = cache_path(release)
    data = _read(path, f"the cached {path}")
    digest = sha256_of(data)
    recorded = _read_record(release)
    if recorded is None:
        _check_pin(release, digest, f"{path}", _remove_hint(release))
        _check_manifest(data, str(path))
        _write_record(release, digest)
        progress(f"{release.name}: using {path} (sha256 {digest[:12]}…, now recorded)")
        return path
    if recorded != digest:
        raise DriftlabError(
            f"{release.label}: the cached {path} has changed since it was downloaded (recorded sha256 "
            f"{recorded}, now {digest}). {_remove_hint(release)}"
        )
    _check_pin(release, digest, f"{path}", _remove_hint(release))
    progress(f"{release.name}: using cached {release.filename} (sha256 {digest[:12]}…)")
    return path


def _store_file(release: Release, source: Path, progress: Progress, *, mirrored: bool = False) -> Path:
    if not source.is_file():
        given = f"{MIRROR_ENV} is the folder {mirror()}, but {source}" if mirrored else f"the offline file {source}"
        raise DriftlabError(
            f"{release.label}: {given} does not exist. On a machine with Internet access, get "
            f"{release.filename} with:\n  {_curl(release)}"
        )
    data = _read(source, str(source))
    digest = sha256_of(data)
    _check_pin(release, digest, str(source), f"Get the right file with:\n  {_curl(release)}")
    _check_manifest(data, str(source))
    _save(release, data, digest)
    progress(f"{release.name}: using {source} (sha256 {digest[:12]}…)")
    return cache_path(release)


def _download(release: Release, url: str, progress: Progress, timeout: float) -> Path:
    progress(f"{release.name}: downloading {url}")
    data = _get(release, url, timeout)
    digest = sha256_of(data)
    hint = "Nothing was saved: the file changed upstream or on the way (a proxy or a mirror)."
    _check_pin(release, digest, url, hint)
    _check_manifest(data, url)
    _save(release, data, digest)
    progress(f"{release.name}: downloaded {release.filename} ({len(data) / 1e6:.1f} MB, sha256 {digest[:12]}…)")
    return cache_path(release)


def _get(release: Release, url: str, timeout: float) -> bytes:
    """The body at `url`; any failure is an error that says how to provide the file offline."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _read_limited(response, url)
    except urllib.error.HTTPError as error:
        error.close()
        reason = f"HTTP {error.code} {error.reason}"
    except urllib.error.URLError as error:
        reason = str(error.reason)
    except TimeoutError:
        reason = f"no answer within {timeout:g}s"
    except (OSError, http.client.HTTPException) as error:
        reason = str(error) or type(error).__name__
    raise DriftlabError(_offline_help(release, url, reason))


def _read_limited(response: http.client.HTTPResponse, url: str) -> bytes:
    body = bytearray()
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > MAX_BYTES:
            raise DriftlabError(f"{url} is larger than {MAX_BYTES >> 20} MiB: not a release manifest")
    return bytes(body)


def _offline_help(release: Release, url: str, reason: str) -> str:
    via = f" (from {MIRROR_ENV})" if url != release.url else ""
    pin = f"\nIts sha256 must be {release.sha256}." if release.sha256 else ""
    return (
        f"{release.label}: could not download {url}{via}: {reason}.\n"
        f"To install without this download, get the file on a machine with Internet access:\n"
        f"  {_curl(release)}\n"
        f"then copy {release.mirror_path} to {cache_path(release)}\n"
        f"or copy the folder you ran curl in here and set {MIRROR_ENV} to it.{pin}"
    )


def _curl(release: Release) -> str:
    """Downloads into the mirror layout, so the folder it runs in can serve as a mirror."""
    return f"curl -fL --retry 3 --create-dirs -o {release.mirror_path} {shlex.quote(release.url)}"


def _remove_hint(release: Release) -> str:
    files = " ".join(shlex.quote(str(p)) for p in (cache_path(release), record_path(release)))
    return f"Delete it to download it again:\n  rm {files}"


def _check_pin(release: Release, digest: str, origin: str, hint: str) -> None:
    if release.sha256 and digest != release.sha256:
        raise DriftlabError(
            f"{release.label}: {origin} does not match the pinned checksum (expected sha256 {release.sha256}, "
            f"got {digest}). {hint}"
        )


def _check_manifest(data: bytes, origin: str) -> None:
    """Catch an error page or an empty answer before it is cached as a manifest."""
    if b"apiVersion" not in data[:_CHUNK]:
        raise DriftlabError(f"{origin} is not a Kubernetes manifest (no apiVersion near its start)")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DriftlabError(f"cannot read {what}: {error.strerror or error}") from None


def _read_record(release: Release) -> str | None:
    """The recorded digest; an unreadable or malformed record reads as a digest nothing matches."""
    path = record_path(release)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    fields = text.split()
    return fields[0].lower() if fields else "empty"


def _save(release: Release, data: bytes, digest: str) -> None:
    """Replace the cached file and its record; at no point does a record describe a different file."""
    _remove(record_path(release))
    _write_atomic(cache_path(release), data)
    _write_record(release, digest)


def _write_record(release: Release, digest: str) -> None:
    _write_atomic(record_path(release), f"{digest}  {release.filename}\n".encode())


def _cache_error(action: str, path: Path, error: OSError) -> DriftlabError:
    return DriftlabError(
        f"cannot {action} {path}: {error.strerror or error}. Make {paths.gitops_manifests_dir()} writable, "
        "or set DRIFTLAB_HOME to a writable folder."
    )


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise _cache_error("remove", path, error) from None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and rename it, so no partial file is ever seen."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise _cache_error("write", path, error) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
