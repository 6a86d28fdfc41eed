"""The one place that knows where driftlab keeps its state.

Everything lives under a single home folder: `DRIFTLAB_HOME` when set, otherwise the platform's user data
folder (via platformdirs). Nothing else in the code builds state paths by hand.

State holds credentials (kubeconfigs, the clusters' keys and tokens, Git passwords, Secrets in the SQLite
databases), so it is private to its owner: folders 0700, files 0600. The helpers here are the one place that
rule lives: `private_dir`, `write_private`, `make_private`, and `private_umask` for processes (the daemons)
whose libraries create files themselves.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

import platformdirs

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as folders only the owner can enter; tighten it if it is open."""
    path = Path(path)
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    for folder in missing:
        with contextlib.suppress(OSError):
            folder.chmod(PRIVATE_DIR_MODE)
    make_private(path)
    return path


def make_private(path: Path) -> None:
    """Take group and other rights off an existing file or folder (files that libraries create, like SQLite's)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(path, mode & 0o700)


def private_file(path: Path) -> Path:
    """Create `path` empty, or keep it, readable by its owner only; for files a library opens itself (SQLite
    gives its -wal and -shm files the database's rights, so making the database private first covers them)."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    make_private(path)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write a file only its owner can read, atomically: it never exists with wider rights, even for a moment."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def private_umask() -> int:
    """Make every file this process creates from now on private; returns the previous umask. For the daemons,
    whose libraries (SQLite, git) create files and folders of their own."""
    return os.umask(PRIVATE_UMASK)


def home() -> Path:
    """The root of all driftlab state, created on first use, private to its owner."""
    override = os.environ.get("DRIFTLAB_HOME")
    root = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("driftlab"))
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        private_dir(root)
    else:
        make_private(root)
    return root


def config_dir() -> Path:
    """The learner's own settings (such as the TUI's key bindings): `config/` under DRIFTLAB_HOME when that is
    set, otherwise the platform's user config folder. Only read by driftlab, so it is not created here."""
    override = os.environ.get("DRIFTLAB_HOME")
    if override:
        return Path(override).expanduser() / "config"
    return Path(platformdirs.user_config_dir("driftlab"))


def check_name(name: str) -> str:
    """Cluster and lab names end up in paths and kubeconfig contexts, so they must be DNS labels."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid name {name!r}: use lowercase letters, digits and '-', starting and ending with a "
            "letter or digit (at most 63 characters)"
        )
    return name


def clusters_dir() -> Path:
    return home() / "clusters"


def cluster_dir(name: str) -> Path:
    """State folder of one embedded cluster: its database, daemon record and log."""
    return private_dir(clusters_dir() / check_name(name))


def project_root() -> Path:
    """The driftlab checkout this package runs from; courses and labs ship beside the engine package."""
    return Path(__file__).resolve().parent.parent


def courses_dir() -> Path:
    """The courses shipped with driftlab: courses/<course>/course.yaml."""
    return project_root() / "courses"


def labs_dir() -> Path:
    """The labs shipped with driftlab: labs/<lab>/lab.yaml."""
    return project_root() / "labs"


def progress_file() -> Path:
    """The SQLite database of every course's progress (current step, passed steps, hints used)."""
    return home() / "progress.sqlite3"


def lab_states_dir() -> Path:
    """Where labs keep their own state (Git repos, pipeline runs): one folder per lab."""
    return home() / "labs"


def lab_dir(name: str) -> Path:
    """State folder of one lab, by the lab's name; not created here, whoever writes into it does."""
    return lab_states_dir() / check_name(name)


def pipeline_store(name: str) -> Path:
    """The SQLite database of a lab's pipeline runs, their steps and logs."""
    return lab_dir(name) / "pipelines.db"


def git_repos_dir(name: str) -> Path:
    """The bare repositories a lab's Git server serves: <name>.git inside it."""
    return lab_dir(name) / "git"


def git_credentials_file(name: str) -> Path:
    """A lab's Git accounts (learner and deploy), readable by the owner only."""
    return lab_dir(name) / "git-credentials.json"


def learners_dir() -> Path:
    """Where a workshop (`driftlab serve --workshop`) keeps each learner's state, one folder per name."""
    return home() / "learners"


def learner_home(name: str) -> Path:
    """One workshop learner's state folder, created private: it is that learner's DRIFTLAB_HOME, so their
    clusters, labs, Git repos, progress and settings are theirs alone, and the same name finds them again."""
    return private_dir(learners_dir() / check_name(name))


def cache_dir() -> Path:
    """Downloads driftlab can fetch again; safe to delete."""
    return home() / "cache"


def gitops_manifests_dir() -> Path:
    """Downloaded Flux / Argo CD release manifests with their recorded checksums: <agent>/<version>/<file>."""
    return cache_dir() / "gitops"
