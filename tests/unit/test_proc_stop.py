"""Stopping a process: SIGTERM first, so it can end cleanly, also when it was stopped (SIGSTOP)."""

from __future__ import annotations

import signal
import subprocess
import sys

from engine import proc

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_running_process_ends_on_sigterm() -> None:
    child = subprocess.Popen(SLEEPER)
    proc.stop(child.pid, timeout=30)
    assert child.wait(timeout=30) == -signal.SIGTERM


def test_a_stopped_process_is_continued_and_ends_on_sigterm_not_sigkill() -> None:
    child = subprocess.Popen(SLEEPER)
    child.send_signal(signal.SIGSTOP)
    proc.stop(child.pid, timeout=30)
    assert child.wait(timeout=30) == -signal.SIGTERM
