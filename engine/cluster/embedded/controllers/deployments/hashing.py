"""The pod-template-hash: one stable name per pod template, shared by a Deployment's ReplicaSet and its pods.

The real controller hashes the Go struct with FNV-32a and spells the decimal result with a safe alphabet;
here the template's canonical JSON is hashed the same way, so a template always maps to the same name
(`web-5d59d67564`), across restarts, and a hash collision is resolved by `collisionCount` as on a real cluster.
"""

from __future__ import annotations

import copy
import json
import struct
from typing import Any

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
# Maps whose absence and emptiness mean the same to the real server's semantic comparison.
_EMPTY_MEANS_ABSENT = frozenset({"labels", "annotations", "nodeSelector", "metadata"})


def fnv32a(data: bytes, seed: int = _FNV_OFFSET) -> int:
    value = seed
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Each byte of `text` as a character that cannot spell words (the apimachinery alphabet)."""
    return "".join(SAFE_ALPHABET[byte % len(SAFE_ALPHABET)] for byte in text.encode())


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    digest = fnv32a(json.dumps(canonical(template), sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        digest = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", digest)
    return safe_encode(str(digest))


def canonical(value: Any, key: str = "") -> Any:
    """`value` without nulls and empty lists (nor empty label-like maps): what semantic equality ignores."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            item = canonical(v, k)
            if item is None or item == [] or (item == {} and k in _EMPTY_MEANS_ABSENT):
                continue
            out[k] = item
        return out
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def canonical_template(template: Obj | None) -> Obj:
    """The canonical form of a pod template without its pod-template-hash label, for comparisons."""
    out = canonical(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict) and POD_TEMPLATE_HASH in labels:
        labels.pop(POD_TEMPLATE_HASH)
        if not labels:
            del out["metadata"]["labels"]
        if not out["metadata"]:
            del out["metadata"]
    return out


def equal_ignore_hash(first: Obj | None, second: Obj | None) -> bool:
    """Whether two pod templates are the same apart from their pod-template-hash label."""
    return canonical_template(first) == canonical_template(second)


def labels_with_hash(labels: Obj | None, value: str) -> Obj:
    return {**(labels or {}), POD_TEMPLATE_HASH: value}


def selector_with_hash(selector: Obj | None, value: str) -> Obj:
    out = copy.deepcopy(selector or {})
    out["matchLabels"] = labels_with_hash(out.get("matchLabels"), value)
    return out


def template_with_hash(template: Obj | None, value: str) -> Obj:
    out = copy.deepcopy(template or {})
    meta = out.setdefault("metadata", {})
    meta["labels"] = labels_with_hash(meta.get("labels"), value)
    return out
