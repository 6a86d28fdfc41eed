"""The first GitOps course (courses/gitops-flux) on a real kind cluster with the real Flux: `driftlab course test`
on a copy whose lab runs on kind, so every step's checks must fail before its solution and pass after it.

It runs only where a container runtime answers (`docker info`) and `kind` is installed, and is skipped elsewhere
with the reason. It also needs the shop's images in a registry the kind node can pull from: the lab's images
are simulated on the embedded backend (its images.yaml), so where they cannot be pulled the test is skipped
and says so, rather than failing at the first rollout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import proc
from engine.cluster.kind import find_kind
from engine.cluster.runtime import detect_runtime

ROOT = Path(__file__).resolve().parents[2]
SHOP_IMAGE = "ghcr.io/driftlab/shop:1.0.0"
COURSE_TEST_TIMEOUT = 1800


def kind_unavailable() -> str:
    """Why this machine cannot run kind ('' when it can)."""
    runtime = detect_runtime()
    if not runtime.answers:
        return f"no container runtime answers ({runtime.detail})"
    if find_kind() is None:
        return f"{runtime.name} answers but kind is not installed"
    return ""


def image_unavailable(image: str) -> str:
    """Why `image` cannot be pulled ('' when it can)."""
    runtime = detect_runtime()
    try:
        pulled = proc.run([runtime.binary or runtime.name, "pull", image], timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot pull {image}: {error}"
    if pulled.ok:
        return ""
    return (
        f"{image} cannot be pulled ({pulled.stderr.strip()[:200]}): the lab's images exist only on the embedded backend"
    )


REASON = kind_unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(REASON), reason=f"kind suite not run: {REASON}")]


@pytest.mark.timeout(COURSE_TEST_TIMEOUT)
def test_the_flux_course_passes_on_kind_with_the_real_flux(tmp_path: Path) -> None:
    missing = image_unavailable(SHOP_IMAGE)
    if missing:
        pytest.skip(f"kind suite not run: {missing}")
    shutil.copytree(ROOT / "courses" / "gitops-flux", tmp_path / "courses" / "gitops-flux")
    shutil.copytree(ROOT / "labs" / "gitops-flux", tmp_path / "labs" / "gitops-flux")
    lab_file = tmp_path / "labs" / "gitops-flux" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("backend: embedded", "backend: kind"))
    env = {"DRIFTLAB_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user-home")}
    (tmp_path / "user-home").mkdir()
    result = proc.run(
        [sys.executable, "-m", "engine.cli", "course", "test", str(tmp_path / "courses" / "gitops-flux"), "--trust"],
        env=env,
        cwd=ROOT,
        timeout=COURSE_TEST_TIMEOUT - 60,
    )
    assert result.ok, f"course test on kind failed:\n{result.stdout}\n{result.stderr}"
    assert "course gitops-flux: passed" in result.stdout
