"""`driftlab lab up PATH` without waiting in line: the cluster starts while the course is read and validated.

Validating a course (compiling its CEL expressions above all) and starting a cluster each take about half a
second or more, and neither needs the other once the course's name and lab are known. A quick look at
course.yaml and lab.yaml tells both, with few imports, so the cluster's daemon is started first and the
course is loaded meanwhile. When the quick look was wrong (an unusual layout), or the course turns out
invalid or untrusted or cannot be set up, the cluster started early is stopped again, and removed if it
did not exist before. Only the embedded cluster starts early, and only when it is sure to be the lab's: the
lab runs only there, the embedded backend was asked for, or the lab's embedded cluster exists already.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import paths
from ..cluster.backend import BACKEND_ENV, EMBEDDED, BackendOptions, recorded_backend
from ..cluster.embedded.backend import EmbeddedCluster
from ..cluster.embedded.settings import ClusterSettings
from ..errors import DriftlabError
from .names import cluster_name

if TYPE_CHECKING:
    from ..course import Course
    from .lab import LabStatus
    from .progress import ProgressStore

COURSE_FILE = "course.yaml"
LAB_FILE = "lab.yaml"
IMAGES_FILE = "images.yaml"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Peek:
    """What a quick read says: the course's folder name, its lab's folder and image catalogue."""

    name: str
    lab_folder: Path
    images: Path | None
    backend: str = "any"


def up_course(
    path: str,
    *,
    trusted: bool = False,
    retry: str = "",
    store: ProgressStore | None = None,
    backend: str | None = None,
    options: BackendOptions | None = None,
    say: Callable[[str], None] | None = None,
) -> LabStatus:
    """Bring up the lab of the course at `path` (a folder, a course.yaml, or a shipped course's name) on
    `backend` (None: the one `LabRuntime.choose` picks); `say` hears the backend chosen and slow progress."""
    peek = peek_course(path)

    def up(course: Course) -> LabStatus:
        return _up(course, trusted, retry, store, backend, options, say)

    cluster = EmbeddedCluster(cluster_name(peek.name)) if peek is not None and _surely_embedded(peek, backend) else None
    if peek is None or cluster is None or (cluster.exists() and cluster.status().running):
        return up(_load(path))
    existed = cluster.exists()
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(_load, path)
        ClusterSettings(image_catalogue=peek.images).save(cluster.state_dir)
        cluster.up()
        try:
            course = loading.result()
        except BaseException:
            cluster.down(purge=not existed)
            raise
    if cluster_name(course.name) != cluster.name or course.lab_folder.resolve() != peek.lab_folder:
        cluster.down(purge=not existed)
    try:
        return up(course)
    except DriftlabError:
        cluster.down(purge=not existed)
        raise


def _surely_embedded(peek: Peek, backend: str | None) -> bool:
    """Whether the lab will run on the embedded cluster whatever the machine offers."""
    made = recorded_backend(cluster_name(peek.name))
    if made is not None:
        return made == EMBEDDED and backend in (None, EMBEDDED)
    if backend is not None:
        return backend == EMBEDDED and peek.backend in (EMBEDDED, "any")
    wanted = os.environ.get(BACKEND_ENV, "").strip()
    return peek.backend == EMBEDDED or (peek.backend == "any" and wanted == EMBEDDED)


def _load(path: str) -> Course:
    from ..course import load_course

    return load_course(path)


def _up(
    course: Course,
    trusted: bool,
    retry: str,
    store: ProgressStore | None,
    backend: str | None = None,
    options: BackendOptions | None = None,
    say: Callable[[str], None] | None = None,
) -> LabStatus:
    from .lab import LabRuntime

    runtime = LabRuntime(course, trusted=trusted, retry=retry, store=store, backend=backend, options=options, say=say)
    return runtime.up()


def peek_course(path: str) -> Peek | None:
    """The course's name and lab from course.yaml and lab.yaml read as plain YAML; None when unsure."""
    given = Path(path)
    if given.is_dir():
        source = given / COURSE_FILE
    elif given.is_file():
        source = given
    elif _NAME_RE.match(path):
        source = paths.courses_dir() / path / COURSE_FILE
    else:
        return None
    course = _read(source)
    lab_name = course.get("lab") if course else None
    if not isinstance(lab_name, str):
        return None
    for folder in _lab_folders(lab_name, source.resolve()):
        lab = _read(folder / LAB_FILE)
        if lab is not None and lab.get("backend") != "kind":
            backend = lab.get("backend") if isinstance(lab.get("backend"), str) else "any"
            return Peek(source.resolve().parent.name, folder.resolve(), _images(lab, folder), backend)
    return None


def _lab_folders(name: str, source: Path) -> list[Path]:
    """Where a course's lab is looked for (the course loader decides for good; this only guesses early)."""
    if name in (".", "..") or name.startswith(("./", "../")):
        return [source.parent / name]
    return [source.parent.parent.parent / "labs" / name, paths.labs_dir() / name]


def _images(lab: dict[str, Any], folder: Path) -> Path | None:
    images = lab.get("images")
    if isinstance(images, str):
        return (folder / images).resolve()
    conventional = folder / IMAGES_FILE
    return conventional.resolve() if conventional.is_file() else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None
