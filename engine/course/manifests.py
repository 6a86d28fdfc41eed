"""Kubernetes manifests referenced by labs (seed) and steps (setup apply/delete): finding and reading them.

A manifest path is a file or a folder; a folder means its `.yaml`, `.yml` and `.json` files in name order, not
recursing, as `kubectl apply -f DIR` reads it. A `kind: List` is read as its items.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .kinds import KindError, ServedKinds, crd_problem, crd_types, is_crd
from .loader import describe, read_documents
from .positions import Document, NodePath
from .problems import CourseError, Report

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Located:
    """A manifest and where it was written: which file (as displayed), which document, which node."""

    manifest: dict[str, Any]
    display: str
    document: Document
    path: NodePath

    def report(self, report: Report, message: str, *field: str) -> None:
        mark = self.document.value_mark((*self.path, *field))
        report.add(self.display, mark.line, mark.column, message)


def manifest_files(path: Path) -> list[Path]:
    """The files a manifest path stands for (the path itself when it is a file)."""
    if path.is_dir():
        return sorted(child for child in path.iterdir() if child.is_file() and child.suffix in SUFFIXES)
    return [path]


def display_join(base_display: str, relative: str) -> str:
    """A path as the author will recognise it: relative to the displayed folder, normalised."""
    return os.path.normpath(os.path.join(base_display, relative))


def read_manifest_path(path: Path, display: str, report: Report) -> list[Located]:
    """Every manifest under a file or folder, with YAML problems and malformed objects reported."""
    found: list[Located] = []
    for file in manifest_files(path):
        shown = display if file == path else display_join(display, file.name)
        for document in read_documents(file, shown, report) or []:
            found.extend(_manifests_in(document, shown, report))
    return found


def inline_manifest(manifest: Any, display: str, document: Document, path: NodePath, report: Report) -> list[Located]:
    """A manifest written inside course.yaml, checked like one read from a file."""
    return _unpack(manifest, display, document, path, report)


def _manifests_in(document: Document, display: str, report: Report) -> list[Located]:
    if document.data is None:
        return []
    return _unpack(document.data, display, document, (), report)


def _unpack(data: Any, display: str, document: Document, path: NodePath, report: Report) -> list[Located]:
    mark = document.value_mark(path)
    if not isinstance(data, dict):
        report.add(display, mark.line, mark.column, f"expected a Kubernetes object (a mapping), found {describe(data)}")
        return []
    missing = [key for key in ("apiVersion", "kind") if not isinstance(data.get(key), str)]
    if missing:
        report.add(display, mark.line, mark.column, f"a manifest needs {' and '.join(missing)}")
        return []
    if data["kind"] == "List" and isinstance(data.get("items"), list):
        return [
            item
            for index, entry in enumerate(data["items"])
            for item in _unpack(entry, display, document, (*path, "items", index), report)
        ]
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        report.add(display, mark.line, mark.column, f"a {data['kind']} manifest needs metadata.name")
        return []
    return [Located(data, display, document, path)]


def declared_kinds(manifests: list[Located], report: Report) -> list[Any]:
    """Resource types declared by the CRDs among the manifests; malformed CRDs are reported."""
    types = []
    for located in manifests:
        if is_crd(located.manifest):
            problem = crd_problem(located.manifest)
            if problem:
                located.report(report, problem)
            types.extend(crd_types(located.manifest))
    return types


def check_kinds(manifests: list[Located], served: ServedKinds, report: Report) -> None:
    """Report manifests whose apiVersion and kind the lab's cluster does not serve."""
    for located in manifests:
        try:
            served.manifest_type(located.manifest["apiVersion"], located.manifest["kind"])
        except KindError as err:
            located.report(report, str(err), "kind")


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """The manifests under a file or folder, for applying them; raises CourseError listing every problem."""
    report = Report()
    found = read_manifest_path(path, str(path), report)
    if report:
        raise CourseError(report.sorted(), what=str(path))
    return [located.manifest for located in found]


def seed_namespaces(paths: Iterable[Path]) -> list[str]:
    """The Namespaces among a lab's seed manifests (files that cannot be read are skipped: validate reports them)."""
    found: list[str] = []
    for path in paths:
        try:
            manifests = load_manifests(path)
        except (CourseError, OSError):
            continue
        found += [
            str(item["metadata"]["name"])
            for item in manifests
            if item.get("kind") == "Namespace" and item.get("apiVersion") == "v1"
        ]
    return found
