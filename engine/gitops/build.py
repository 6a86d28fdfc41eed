"""Turning a folder of a checked-out revision into the objects an agent applies.

`kustomize_build` is Flux's way: the real kustomize (`kubectl kustomize`) over the folder, and when the folder
has no kustomization file, one generated first that lists every manifest in the folder tree (a subfolder with
its own kustomization file is listed as a whole, not descended into). That generated list is why a folder
without a `kustomization.yaml` picks up every file, and why adding one that lists a single file silently
drops the rest. `directory_objects` is Argo CD's plain "directory" source: every YAML or JSON file in the
folder (and below it with `recurse`), no kustomize.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .. import proc
from ..errors import DriftlabError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml")
BUILD_TIMEOUT = 60.0

JSON = dict[str, Any]


class BuildError(DriftlabError):
    """The folder could not be built; the message is kustomize's (or the parser's), with the file."""


class PathNotFound(BuildError):
    """The source's revision has no such folder."""


def folder(root: Path, path: str | None) -> Path:
    """The folder `path` names inside the checkout `root`; never outside it."""
    relative = (path or "./").strip()
    target = (root / relative.lstrip("/")).resolve()
    base = root.resolve()
    if target != base and base not in target.parents:
        raise PathNotFound(f"path {relative!r} points outside the source")
    if not target.is_dir():
        raise PathNotFound(f"kustomization path not found: {relative}")
    return target


def has_kustomization(directory: Path) -> bool:
    return any((directory / name).is_file() for name in KUSTOMIZATION_FILES)


def kustomize_build(root: Path, path: str | None) -> list[JSON]:
    """Flux's build of `path` in the checkout `root` (which it may write a generated kustomization into)."""
    directory = folder(root, path)
    if not has_kustomization(directory):
        generate_kustomization(directory)
    result = proc.run([proc.tool("kubectl"), "kustomize", str(directory)], timeout=BUILD_TIMEOUT)
    if not result.ok:
        message = result.stderr.strip().removeprefix("error: ") or "kustomize failed"
        raise BuildError(message.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", ""))
    return parse_documents(result.stdout, "kustomize output")


def generate_kustomization(directory: Path) -> list[str]:
    """Write the kustomization Flux would generate for a folder without one; returns the resources listed."""
    resources = _scan(directory, directory)
    body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return resources


def _scan(base: Path, directory: Path) -> list[str]:
    found: list[str] = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if has_kustomization(entry):
                found.append(entry.relative_to(base).as_posix())
            else:
                found.extend(_scan(base, entry))
        elif entry.suffix in MANIFEST_SUFFIXES and _holds_objects(entry):
            found.append(entry.relative_to(base).as_posix())
    return found


def _holds_objects(file: Path) -> bool:
    """Whether a YAML file holds Kubernetes objects (apiVersion and kind), as Flux's generator requires."""
    try:
        documents = list(yaml.safe_load_all(file.read_text()))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return True  # let kustomize report the broken file, with its name
    return any(isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc for doc in documents)


def directory_objects(root: Path, path: str | None, recurse: bool = False) -> list[JSON]:
    """Argo CD's directory source: the objects in every YAML/JSON file of the folder."""
    directory = folder(root, path)
    files = sorted(directory.rglob("*") if recurse else directory.iterdir())
    objects: list[JSON] = []
    for file in files:
        if not file.is_file() or any(part.startswith(".") for part in file.relative_to(directory).parts):
            continue
        name = file.relative_to(root.resolve()).as_posix() if file.is_relative_to(root.resolve()) else file.name
        if file.suffix in MANIFEST_SUFFIXES:
            objects.extend(parse_documents(file.read_text(), name))
        elif file.suffix == ".json":
            try:
                objects.extend(_flatten([json.loads(file.read_text())], name))
            except ValueError as err:
                raise BuildError(f"{name}: invalid JSON: {err}") from None
    return objects


def parse_documents(text: str, source: str) -> list[JSON]:
    """The objects of a multi-document YAML text (Lists expanded); anything that is not an object is an error."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise BuildError(f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}") from None
    return _flatten(documents, source)


def _flatten(documents: list[Any], source: str) -> list[JSON]:
    objects: list[JSON] = []
    for doc in documents:
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            raise BuildError(f"{source}: a document is not a Kubernetes object (no apiVersion and kind)")
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            objects.extend(_flatten(doc["items"], source))
        else:
            objects.append(doc)
    return objects
