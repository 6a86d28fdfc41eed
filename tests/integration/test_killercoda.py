"""The Killercoda scenario written for the tests, imported and proven with `driftlab course test`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from engine import proc

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WEB_BASICS = REPO / "tests" / "killercoda" / "web-basics"
STEP_IDS = ("create-a-namespace", "deploy-the-web-server", "scale-it-out", "expose-it", "well-done")


def _driftlab(*args: str, env: dict[str, str], timeout: float = 60) -> proc.Result:
    return proc.run([sys.executable, "-m", "engine.cli", *args], env=env, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user-home"
    home.mkdir()
    return {
        "DRIFTLAB_HOME": str(tmp_path / "driftlab-home"),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "kube-cache"),
        "DRIFTLAB_TIMING_SCALE": "0",
    }


def test_the_imported_scenario_passes_course_test(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "web-basics"
    imported = _driftlab("course", "import-killercoda", str(WEB_BASICS), str(out), env=env)
    assert imported.ok, imported.stderr
    validated = _driftlab("course", "validate", str(out), env=env)
    assert validated.ok, validated.stderr

    # The imported course lives outside driftlab's courses/, so its shell code runs only when trusted.
    result = _driftlab("course", "test", "--trust", str(out), env=env, timeout=300)
    assert result.ok, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    rows = {line.split()[0]: line.split("  ")[-1].strip() for line in result.stdout.splitlines() if line.strip()}
    assert [rows.get(step_id) for step_id in STEP_IDS] == ["passed", "passed", "passed", "passed", "no checks"]


def test_a_check_that_passes_before_its_solution_fails_course_test(tmp_path: Path, env: dict[str, str]) -> None:
    """The same scenario with one verify script that always passes: course test names the broken step."""
    scenario = tmp_path / "scenario"
    shutil.copytree(WEB_BASICS, scenario)
    (scenario / "step3" / "verify.sh").write_text("#!/bin/bash\n# Three replicas of web are ready\nexit 0\n")
    out = tmp_path / "broken"
    assert _driftlab("course", "import-killercoda", str(scenario), str(out), env=env).ok
    result = _driftlab("course", "test", "--trust", str(out), env=env, timeout=300)
    assert result.returncode == 1
    assert "error: step scale-it-out: check 'Three replicas of web are ready' already passes before the solution" in (
        result.stderr
    )
