"""The first GitOps course (courses/gitops-flux) on a real kind cluster with the real Flux: `driftlab course test`
with DRIFTLAB_BACKEND=kind, so every step's checks must fail before its solution and pass after it, with the
shop's images built from the lab's catalogue and loaded into the node, and pushes told to the real Flux.

It runs only where a container runtime answers (`docker info`) and `kind` is installed, and is skipped elsewhere
with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine import proc
from engine.cluster.kind import find_kind
from engine.cluster.runtime import detect_runtime

ROOT = Path(__file__).resolve().parents[2]
COURSE_TEST_TIMEOUT = 1800


def kind_unavailable() -> str:
    """Why this machine cannot run kind ('' when it can)."""
    runtime = detect_runtime()
    if not runtime.answers:
        return f"no container runtime answers ({runtime.detail})"
    if find_kind() is None:
        return f"{runtime.name} answers but kind is not installed"
    return ""


REASON = kind_unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(REASON), reason=f"kind suite not run: {REASON}")]


@pytest.mark.timeout(COURSE_TEST_TIMEOUT)
def test_the_flux_course_passes_on_kind_with_the_real_flux(tmp_path: Path) -> None:
    env = {"DRIFTLAB_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user-home"), "DRIFTLAB_BACKEND": "kind"}
    (tmp_path / "user-home").mkdir()
    result = proc.run(
        [sys.executable, "-m", "engine.cli", "course", "test", str(ROOT / "courses" / "gitops-flux"), "--trust"],
        env=env,
        cwd=ROOT,
        timeout=COURSE_TEST_TIMEOUT - 60,
    )
    assert result.ok, f"course test on kind failed:\n{result.stdout}\n{result.stderr}"
    assert "course gitops-flux: passed" in result.stdout
