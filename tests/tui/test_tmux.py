"""Smoke test of the installed `driftlab` in a real terminal (tmux): pick the first course, let its lab start,
suspend into the learner's shell with `!`, type the first step's solution, come back with `exit`, and read the
screen with `capture-pane` until the step's checks show ✓.

The screen is re-read only when the pane printed something (see tests/tui/tmux.py), so nothing sleeps.
Skipped, with the reason, where tmux or the installed `driftlab` is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import paths

from ..nodeports import node_ports
from .tmux import Tmux, last_line

DRIFTLAB = Path(sys.executable).parent / "driftlab"
COURSE = paths.courses_dir() / "antipatterns"
SOLUTION = "kubectl apply -f manifests/dev/shop.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
    pytest.mark.skipif(not DRIFTLAB.exists(), reason=f"driftlab is not installed at {DRIFTLAB}"),
]


@pytest.fixture
def smoke(tmp_path: Path) -> Iterator[tuple[Tmux, dict[str, str]]]:
    home = tmp_path / "driftlab"
    user = tmp_path / "user"
    user.mkdir()
    env = {
        "DRIFTLAB_HOME": str(home),
        "HOME": str(user),
        "SHELL": shutil.which("bash") or "/bin/bash",
        "TERM": "xterm-256color",
        "DRIFTLAB_TIMING_SCALE": "0",
        "PATH": os.environ.get("PATH", ""),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    }
    tmux = Tmux(tmp_path)
    with node_ports():
        try:
            yield tmux, env
        finally:
            tmux.close()
            subprocess.run([str(DRIFTLAB), "lab", "down", "--all", "--purge"], env={**os.environ, **env},
                           capture_output=True, timeout=120)  # fmt: skip


def test_the_first_step_of_the_first_course_is_done_from_the_terminal(smoke: tuple[Tmux, dict[str, str]]) -> None:
    tmux, env = smoke
    tmux.start([str(DRIFTLAB)], COURSE, env)
    picker = tmux.wait_for(lambda text: "courses ─" in text and "Release antipatterns" in text, "the course list")
    assert "pick a course" in picker

    tmux.keys("Enter")
    tmux.wait_for(lambda text: "● lab ready" in text and "✗" in text, "the lab and its failing checks", 60)

    tmux.keys("!")
    tmux.wait_for(lambda text: last_line(text).startswith("(driftlab:antipatterns)"), "the learner's shell")
    tmux.keys(SOLUTION, "Enter")
    tmux.wait_for(lambda text: "deployment.apps/shop created" in text, "kubectl's answer")
    tmux.keys("exit", "Enter")

    done = tmux.wait_for(lambda text: "Step 1 done ✓" in text, "the step to pass", 90)
    assert "✓ the shop's Deployment" in done
    assert "✓ Kubernetes reported" in done
    assert "✗" not in done
    tmux.keys("q")
