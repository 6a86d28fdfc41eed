"""The one place that knows where driftlab keeps its state.

Everything lives under a single home folder: `DRIFTLAB_HOME` when set, otherwise the platform's user data
folder (via platformdirs). Nothing else in the code builds state paths by hand.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def home() -> Path:
    """The root of all driftlab state, created on first use."""
    override = os.environ.get("DRIFTLAB_HOME")
    root = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("driftlab"))
    root.mkdir(parents=True, exist_ok=True)
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
    path = clusters_dir() / check_name(name)
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def cache_dir() -> Path:
    """Downloads driftlab can fetch again; safe to delete."""
    return home() / "cache"


def gitops_manifests_dir() -> Path:
    """Downloaded Flux / Argo CD release manifests with their recorded checksums: <agent>/<version>/<file>."""
    return cache_dir() / "gitops"
