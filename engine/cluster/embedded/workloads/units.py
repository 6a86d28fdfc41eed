"""Kubernetes quantities (`500m`, `64Mi`) and Go durations (`1.5s`), as the kubelet reads and prints them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from ..gofmt import go_duration as duration_string
from .errors import WorkloadError

_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?")
_SUFFIXES: Mapping[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity (`500m`, `64Mi`, `1e3`) as a number of base units."""
    match = _QUANTITY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise WorkloadError(f"invalid quantity {text!r}")
    number = Decimal(match[1])
    suffix = match[2] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def go_duration(seconds: float) -> str:
    """A duration as Go prints time.Duration truncated to milliseconds (`512ms`, `1.5s`, `2m3.25s`)."""
    return duration_string(round(seconds * 1000) / 1000)
