"""One step's shell: output line by line as it comes, exit codes as shells report them, timeouts, leftovers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from engine.pipeline import execute
from engine.pipeline.execute import StepOutcome, run_step


def step(script: str, cwd: Path, timeout: float | None = None, **env: str) -> tuple[StepOutcome, list[str], int]:
    lines: list[str] = []
    pids: list[int] = []
    outcome = asyncio.run(
        run_step(script, cwd=cwd, env=env, timeout=timeout, on_start=pids.append, on_lines=lines.extend)
    )
    return outcome, lines, pids[0]


async def wait_gone(pid: int, timeout: float = 10) -> None:
    """Wait for a process (not necessarily our child) to end, without polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
    try:
        await asyncio.wait_for(ended, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def test_output_is_read_line_by_line_with_stderr_in_order(tmp_path: Path) -> None:
    script = 'echo one; echo two >&2; printf "three\\r\\nno newline at the end"'
    outcome, lines, _ = step(script, tmp_path)
    assert outcome == StepOutcome(0, False)
    assert lines == ["one", "two", "three", "no newline at the end"]


def test_the_step_runs_in_its_folder_with_its_environment(tmp_path: Path) -> None:
    outcome, lines, _ = step('pwd; echo "$GREETING"', tmp_path, GREETING="hello")
    assert lines == [str(tmp_path), "hello"]
    assert outcome.exit_code == 0


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ("exit 3", 3),
        ("false; echo not reached", 1),  # -e: the first failing command fails the step
        ("false | true", 1),  # pipefail
        ("kill -9 $$", 137),  # killed by a signal: 128 + its number
    ],
)
def test_exit_codes(tmp_path: Path, script: str, code: int) -> None:
    outcome, lines, _ = step(script, tmp_path)
    assert outcome == StepOutcome(code, False)
    assert "not reached" not in lines


def test_a_step_that_times_out_is_terminated(tmp_path: Path) -> None:
    outcome, lines, _ = step("echo before; sleep 30; echo after", tmp_path, timeout=1)
    assert outcome == StepOutcome(143, True)
    assert lines == ["before"]


def test_a_step_that_ignores_sigterm_is_killed_with_its_whole_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute, "KILL_GRACE", 0.2)
    pidfile = tmp_path / "child.pid"
    outcome, _, _ = step(f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait", tmp_path, timeout=1)
    assert outcome == StepOutcome(137, True)
    asyncio.run(wait_gone(int(pidfile.read_text())))


def test_background_leftovers_are_killed_when_the_step_ends(tmp_path: Path) -> None:
    pidfile = tmp_path / "leftover.pid"
    outcome, _, _ = step(f"sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}", tmp_path)
    assert outcome.exit_code == 0
    asyncio.run(wait_gone(int(pidfile.read_text())))


def test_a_leftover_holding_the_output_open_does_not_hold_the_step(tmp_path: Path) -> None:
    pidfile = tmp_path / "leftover.pid"
    outcome, lines, _ = step(f"echo done; sleep 60 & echo $! > {pidfile}", tmp_path)
    assert outcome.exit_code == 0 and lines == ["done"]
    asyncio.run(wait_gone(int(pidfile.read_text())))


def test_long_lines_are_cut_and_bad_bytes_replaced(tmp_path: Path) -> None:
    size = execute.MAX_LINE + 10
    outcome, lines, _ = step(f"head -c {size} /dev/zero | tr '\\0' x; echo; printf '\\377ok\\n'", tmp_path)
    assert outcome.exit_code == 0
    assert [len(line) for line in lines[:2]] == [execute.MAX_LINE, 10]
    assert lines[2] == "\ufffdok"


def test_the_process_group_id_is_given_when_the_step_starts(tmp_path: Path) -> None:
    _, lines, pid = step("echo $$; ps -o pgid= -p $$", tmp_path)
    assert lines[0] == str(pid)
    assert lines[1].strip() == str(pid)


def test_a_process_that_left_the_group_cannot_hold_the_step_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute, "DRAIN_TIMEOUT", 0.2)
    pidfile = tmp_path / "escaped.pid"
    os.mkfifo(tmp_path / "gate")
    script = "setsid sh -c 'echo $$ > gate; exec sleep 60' & read pid < gate; echo $pid > escaped.pid; echo done"
    outcome, lines, _ = step(script, tmp_path)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert outcome.exit_code == 0 and lines == ["done"]
