"""The engine never imports Textual: only engine.tui does, so the command line and the lab work without it and
everything a front end needs (sessions, feeds, renderers, demo mode) is plain Python."""

from __future__ import annotations

import subprocess
import sys

ENGINE_MODULES = (
    "engine.cli",
    "engine.lab.session",
    "engine.lab.catalogue",
    "engine.lab.feeds",
    "engine.lab.resources_view",
    "engine.lab.demo",
    "engine.gitops.status",
)


def loaded_after_importing(modules: tuple[str, ...]) -> set[str]:
    code = f"import sys\nfor name in {modules!r}: __import__(name)\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def test_the_engine_imports_no_textual() -> None:
    loaded = loaded_after_importing(ENGINE_MODULES)
    assert "engine.lab.demo" in loaded
    assert not {name for name in loaded if name == "textual" or name.startswith("textual.")}
    assert "engine.tui" not in loaded


def test_the_tui_does() -> None:
    assert "textual" in loaded_after_importing(("engine.tui.app",))
