"""Build the lab's own images for a real cluster and load them into its kind node.

One runner image per lab catalogue (the image runner, the packages it needs and the catalogue), then one small
image per catalogue tag on top of it, named as pods name it (`ghcr.io/driftlab/shop:1.1.0`), saying which entry
it is and running as the entry's user. Only repositories under driftlab's own registry path are built: they
exist nowhere else; the others in a catalogue are public images the node pulls itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import proc
from ...errors import DriftlabError
from ..embedded.workloads import ImageBehaviour, parse_catalogue

OWN_REGISTRY = "ghcr.io/driftlab/"
BASE_IMAGE = "python:3.11-slim"
RUNNER_REPOSITORY = "driftlab/image-runner"
BUILD_TIMEOUT = 900.0
# The engine modules the runner imports (see runner.py), relative to the `engine` package.
RUNNER_SOURCES = (
    "__init__.py",
    "errors.py",
    "cluster/__init__.py",
    "cluster/embedded/__init__.py",
    "cluster/embedded/clock.py",
    "cluster/embedded/gofmt.py",
    "cluster/embedded/node.py",
    "cluster/embedded/resources.py",
    "cluster/embedded/workloads",
    "cluster/images/__init__.py",
    "cluster/images/runner.py",
)
RUNNER_PACKAGES = ("pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection", "PyYAML")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class OwnImage:
    """One image to build: its reference and the user its entry runs as (None: the base image's, root)."""

    reference: str
    user: str | None


def own_images(catalogue: Path) -> list[OwnImage]:
    """The catalogue's images under driftlab's registry path, one per listed tag."""
    parsed = parse_catalogue(catalogue.read_text(encoding="utf-8"), str(catalogue))
    found: list[OwnImage] = []
    for repository in parsed.repositories.values():
        if not repository.name.startswith(OWN_REGISTRY):
            continue
        for tag in repository.tags:
            reference = f"{repository.name}:{tag}"
            resolved = parsed.resolve(reference)
            user = resolved.behaviour.user if isinstance(resolved, ImageBehaviour) else None
            found.append(OwnImage(reference, str(user) if user is not None else None))
    return found


def _pins() -> list[str]:
    """The runner's packages at the versions driftlab itself runs with."""
    pins = []
    for name in RUNNER_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def runner_dockerfile() -> str:
    return (
        f"FROM {BASE_IMAGE}\n"
        f"RUN pip install --no-cache-dir {' '.join(_pins())}\n"
        "COPY engine /driftlab/engine\n"
        "COPY images.yaml /driftlab/images.yaml\n"
        "ENV PYTHONPATH=/driftlab DRIFTLAB_CATALOGUE=/driftlab/images.yaml PYTHONUNBUFFERED=1\n"
        'ENTRYPOINT ["python", "-m", "engine.cluster.images.runner"]\n'
    )


def tag_dockerfile(base: str, image: OwnImage) -> str:
    lines = [f"FROM {base}", f"ENV DRIFTLAB_IMAGE={image.reference}"]
    if image.user:
        lines.append(f"USER {image.user}")
    return "\n".join(lines) + "\n"


def write_runner_context(folder: Path, catalogue: Path) -> str:
    """Write the runner image's build context into `folder`; returns the image's tag (a digest of the context)."""
    if folder.exists():
        shutil.rmtree(folder)
    package = Path(__file__).resolve().parents[2]
    for source in RUNNER_SOURCES:
        origin, target = package / source, folder / "engine" / source
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
    shutil.copyfile(catalogue, folder / "images.yaml")
    (folder / "Dockerfile").write_text(runner_dockerfile(), encoding="utf-8")
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return f"{RUNNER_REPOSITORY}:{digest.hexdigest()[:12]}"


class ImageBuilder:
    """Builds images with the container runtime kind uses (docker, podman or nerdctl: the same `build` verbs)."""

    def __init__(self, runtime: str, work_dir: Path, progress: Progress) -> None:
        self.runtime = runtime
        self.work_dir = work_dir
        self.progress = progress

    def has(self, reference: str) -> bool:
        return self._run(["image", "inspect", reference], timeout=60).ok

    def build(self, reference: str, context: Path) -> None:
        result = self._run(["build", "-t", reference, str(context)], timeout=BUILD_TIMEOUT)
        if not result.ok:
            last = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
            raise DriftlabError(
                f"could not build the lab image {reference} with {self.runtime}:\n{last}\n"
                f"The first build pulls {BASE_IMAGE} and installs Python packages from PyPI: check the network, "
                "or run the course on the embedded backend (--backend embedded)."
            )

    def fingerprint(self, catalogue: Path) -> str:
        """Write the runner image's context for `catalogue`; returns the runner image's tag (its digest)."""
        return write_runner_context(self.work_dir / "runner", catalogue)

    def build_lab(self, base: str, images: Sequence[OwnImage]) -> list[str]:
        """Build the runner image `base` (see `fingerprint`) unless built before, then one image per tag;
        returns the tags' references."""
        if not self.has(base):
            self.progress(f"building the lab's images ({len(images)}): the first time pulls {BASE_IMAGE}")
            self.build(base, self.work_dir / "runner")
        for index, image in enumerate(images):
            folder = self.work_dir / "tags" / str(index)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "Dockerfile").write_text(tag_dockerfile(base, image), encoding="utf-8")
            self.build(image.reference, folder)
        return [image.reference for image in images]

    def _run(self, args: list[str], timeout: float) -> proc.Result:
        try:
            return proc.run([self.runtime, *args], timeout=timeout)
        except OSError as err:
            raise DriftlabError(f"cannot run {self.runtime}: {err.strerror or err}") from None
        except subprocess.TimeoutExpired:
            raise DriftlabError(
                f"`{self.runtime} {' '.join(args[:2])}` did not finish within {timeout:g}s: is the runtime answering? "
                "(driftlab doctor checks it)"
            ) from None
