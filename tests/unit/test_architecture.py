"""The layering in DESIGN.md, enforced: the engine never imports Textual, and lower layers never import upper ones."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
# Packages ordered from the top of the stack to the bottom; a package may import only those below it.
LAYERS = [("tui", "cli"), ("lab", "course", "checks"), ("cluster", "gitserver", "pipeline", "gitops")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
    return names


def _package_of(path: Path) -> str:
    rel = path.relative_to(ENGINE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _resolve(path: Path, name: str) -> str:
    """Absolute module name of an import written in `path`."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)[:-level]
    rest = name.lstrip(".")
    return ".".join(parts + ([rest] if rest else []))


def test_only_the_tui_imports_textual() -> None:
    offenders = [
        str(path.relative_to(ENGINE))
        for path in ENGINE.rglob("*.py")
        if _package_of(path) != "tui" and any(n.split(".")[0] == "textual" for n in _imports(path))
    ]
    assert offenders == []


def test_lower_layers_never_import_upper_ones() -> None:
    rank = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
    offenders = []
    for path in ENGINE.rglob("*.py"):
        own = _package_of(path)
        if own not in rank:
            continue
        for name in _imports(path):
            target = _resolve(path, name).split(".")
            if target[0] != "engine" or len(target) < 2 or target[1] not in rank:
                continue
            if rank[target[1]] < rank[own]:
                offenders.append(f"{path.relative_to(ENGINE)} imports {'.'.join(target)}")
    assert offenders == []
