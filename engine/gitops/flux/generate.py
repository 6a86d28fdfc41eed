"""Building a Kustomization's path the way kustomize-controller does.

Flux first makes sure the folder has a kustomization file (generating one that lists every manifest when it has
none), then writes the Kustomization's own settings into it (`targetNamespace` as `namespace`, `namePrefix`,
`nameSuffix`, `patches`, `images`, `components`) and runs kustomize. Every object of the result needs an
apiVersion, a kind and a name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..build import KUSTOMIZATION_FILES, BuildError, folder, generate_kustomization, has_kustomization, kustomize_build
from .spec import KustomizationSpec

JSON = dict[str, Any]


def build(root: Path, spec: KustomizationSpec) -> list[JSON]:
    """The objects of `spec.path` in the checkout `root`; PathNotFound or BuildError when it cannot be built."""
    directory = folder(root, spec.path)
    if not has_kustomization(directory):
        generate_kustomization(directory)
    settings = dict(spec.generator)
    if spec.target_namespace:
        settings["namespace"] = spec.target_namespace
    if settings:
        customize(directory, settings)
    objects = kustomize_build(root, spec.path)
    for obj in objects:
        if not (obj.get("metadata") or {}).get("name"):
            raise BuildError(f"failed to decode Kubernetes apiVersion, kind and name from: {yaml.safe_dump(obj)}")
    return objects


def customize(directory: Path, settings: JSON) -> None:
    """Write the Kustomization's settings into the folder's kustomization file (lists are appended to)."""
    file = next(directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file())
    try:
        body = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise BuildError(f"{file.name}: invalid YAML: {err}") from None
    if not isinstance(body, dict):
        raise BuildError(f"{file.name}: a kustomization must be a YAML mapping")
    for key, value in settings.items():
        if isinstance(value, list):
            existing = body.get(key) if isinstance(body.get(key), list) else []
            body[key] = [*existing, *value]
        else:
            body[key] = value
    file.write_text(yaml.safe_dump(body, sort_keys=False))
