"""One step's shell process: started in a process group of its own, read line by line, killed on timeout.

Steps run as `bash --noprofile --norc -eo pipefail -c RUN` (`sh -e -c RUN` where bash is missing), as CI
systems run `run:` blocks: the first failing command fails the step. When the step's shell exits, whatever it
left running in the background is killed with its process group, as a CI job's leftovers are.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import proc

CHUNK = 1 << 16
MAX_LINE = 1 << 16  # a longer line is cut into pieces of this size
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a step times out
DRAIN_TIMEOUT = 2.0  # how long to wait for the end of the output once the step's processes are gone
GROUP_GONE_TIMEOUT = 2.0  # how long killed processes may take to die before the outcome is reported anyway


@dataclass(frozen=True)
class StepOutcome:
    exit_code: int  # 128+N when the shell was killed by signal N, as shells report it
    timed_out: bool


def shell_command(script: str) -> list[str]:
    bash = shutil.which("bash")
    return [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script] if bash else ["sh", "-e", "-c", script]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


def _pieces(line: bytes) -> list[bytes]:
    return [line[i : i + MAX_LINE] for i in range(0, max(len(line), 1), MAX_LINE)]


async def _pump(stream: asyncio.StreamReader, on_lines: Callable[[list[str]], None]) -> None:
    """Hand over complete lines as soon as they arrive, one batch per read, and the unterminated rest at EOF."""
    pending = b""
    while chunk := await stream.read(CHUNK):
        *complete, pending = (pending + chunk).split(b"\n")
        pieces = [piece for line in complete for piece in _pieces(line)]
        while len(pending) >= MAX_LINE:
            pieces.append(pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
        if pieces:
            on_lines([_decode(piece) for piece in pieces])
    if pending:
        on_lines([_decode(pending)])


async def _terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the whole group, then SIGKILL to what is still there after a grace period."""
    proc.kill_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), KILL_GRACE)
    except TimeoutError:
        proc.kill_group(process.pid, signal.SIGKILL)
        await process.wait()


async def _drain(started: proc.GroupProcess, reader: asyncio.Task[None]) -> None:
    """Wait for the output's end; a process that escaped the group may hold the pipe open, so not forever."""
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, DRAIN_TIMEOUT)
    finally:
        started.close_output()


async def run_step(
    script: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    on_start: Callable[[int], None],
    on_lines: Callable[[list[str]], None],
) -> StepOutcome:
    """Run a step to its end; `on_start` gets the process group id, `on_lines` the output as it comes."""
    started = await proc.start_in_group(shell_command(script), env=env, cwd=cwd)
    process = started.process
    reader = asyncio.create_task(_pump(started.output, on_lines))
    timed_out = False
    try:
        on_start(started.pid)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            timed_out = True
            await _terminate(process)
    except BaseException:
        proc.kill_group(started.pid, signal.SIGKILL)
        reader.cancel()
        started.close_output()
        raise
    if proc.kill_group(started.pid, signal.SIGKILL):
        await _group_gone(started.pid)
    await _drain(started, reader)
    code = process.returncode if process.returncode is not None else -signal.SIGKILL
    return StepOutcome(code if code >= 0 else 128 - code, timed_out)


async def _group_gone(pgid: int, timeout: float = GROUP_GONE_TIMEOUT) -> None:
    """Wait until the killed group's processes have died (SIGKILL is delivered, not awaited), so nothing a step
    started runs on once its outcome is reported."""
    deadline = asyncio.get_running_loop().time() + timeout
    while proc.members(group=pgid) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
