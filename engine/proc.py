"""The one subprocess helper: every external command driftlab runs goes through here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def tool(name: str) -> str:
    """Path of a tool installed next to the running Python (the venv's kubectl), else the bare name."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    timeout: float | None = 60,
) -> Result:
    """Run a command to completion and capture its output; `env` entries are added to ours."""
    full_env = {**os.environ, **(env or {})}
    completed = subprocess.run(
        list(args),
        env=full_env,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(list(args), completed.returncode, completed.stdout, completed.stderr)


def run_streaming(
    args: Sequence[str],
    *,
    on_stderr: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    timeout: float | None = 60,
) -> Result:
    """Run a command to completion like `run`, handing each line it writes to stderr to `on_stderr` as it comes.

    For tools that log progress on stderr and print data on stdout (kind). The command leads a session of its
    own: on a timeout (`subprocess.TimeoutExpired`, carrying the output so far) or an interrupt, everything it
    started is killed before the exception propagates, so no child it spawned lives on. `on_stderr` runs on
    the caller's thread, with the line's end stripped.
    """
    process = subprocess.Popen(
        list(args),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    stdout: list[str] = []
    pumps = [
        threading.Thread(target=_pump_lines, args=(process.stderr, lines), daemon=True),
        threading.Thread(target=lambda: stdout.append(_read_all(process.stdout)), daemon=True),
    ]
    if input is not None:
        pumps.append(threading.Thread(target=_feed, args=(process.stdin, input), daemon=True))
    for pump in pumps:
        pump.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    stderr: list[str] = []
    try:
        while (line := _next_line(lines, deadline)) is not None:
            stderr.append(line)
            if on_stderr is not None:
                on_stderr(line.rstrip("\r\n"))
        returncode = process.wait(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
    except BaseException as err:
        kill_group(process.pid)
        process.wait()
        _join(pumps)
        if isinstance(err, subprocess.TimeoutExpired):
            raise subprocess.TimeoutExpired(list(args), timeout or 0, "".join(stdout), _drain(stderr, lines)) from None
        raise
    _join(pumps)
    return Result(list(args), returncode, "".join(stdout), "".join(stderr))


def _pump_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def _read_all(stream: IO[str]) -> str:
    return stream.read()


def _feed(stream: IO[str], text: str) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        stream.write(text)
    with contextlib.suppress(BrokenPipeError, OSError):
        stream.close()


def _next_line(lines: queue.Queue[str | None], deadline: float | None) -> str | None:
    """The next stderr line, None at its end; TimeoutExpired once the deadline has passed."""
    remaining = None if deadline is None else deadline - time.monotonic()
    if remaining is not None and remaining <= 0:
        raise subprocess.TimeoutExpired("", 0)
    try:
        return lines.get(timeout=remaining)
    except queue.Empty:
        raise subprocess.TimeoutExpired("", 0) from None


def _drain(seen: list[str], lines: queue.Queue[str | None]) -> str:
    """Everything written to stderr, the lines not handed out yet included."""
    rest = []
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            rest.append(line)
    return "".join(seen + rest)


def _join(threads: Sequence[threading.Thread], timeout: float = 5) -> None:
    for thread in threads:
        thread.join(timeout)


async def start_streaming(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    inherit_env: bool = True,
) -> asyncio.subprocess.Process:
    """Start a command with piped stdin, stdout and stderr, for callers that stream through it.

    The caller writes, reads and waits. `inherit_env=False` gives the child only `env`, for programs (such as
    CGI backends) whose environment is their input.
    """
    full_env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
    return await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        close_fds=True,
    )


@dataclass
class GroupProcess:
    """A command started by `start_in_group`: the process, and its output as a stream."""

    process: asyncio.subprocess.Process
    output: asyncio.StreamReader
    _transport: asyncio.ReadTransport

    @property
    def pid(self) -> int:
        """The process id, which is also the id of its process group."""
        return self.process.pid

    def close_output(self) -> None:
        """Stop reading the output (something the command left behind may still hold it open)."""
        self._transport.close()


async def start_in_group(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> GroupProcess:
    """Start a command whose output is read while it runs; `env` entries are added to ours.

    stdout and stderr share one pipe, so lines arrive in the order they were written. The command leads a
    session (and process group) of its own, so `kill_group(pid)` reaches everything it started. The pipe is
    not asyncio's own: asyncio's `wait()` would also wait for every holder of the pipe to close it, and a
    background process the command started may hold it long after the command itself has exited.
    """
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    output = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(output), os.fdopen(read_end, "rb", buffering=0)
    )
    return GroupProcess(process, output, transport)


def members(*, group: int | None = None, session: int | None = None) -> list[int]:
    """Live processes (zombies do not count: they no longer run) in process group `group` or session `session`.
    Linux /proc; elsewhere none are found."""
    field, wanted = (2, group) if group is not None else (3, session)
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > field and fields[field] == str(wanted) and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Send a signal to the process group led by `pid`; False when no such group is left."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def spawn_detached(
    args: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session so it outlives the command that started it."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    finally:
        log.close()


def start_daemon(args: Sequence[str], *, log_path: Path, timeout: float) -> bool:
    """Start a detached daemon that reports readiness by writing `ready` to the fd passed as `--ready-fd N`.

    Returns once it is ready (True), or False when it exited or stayed silent for `timeout` seconds; a silent
    one is terminated. No polling: the parent blocks on the pipe.
    """
    read_fd, write_fd = os.pipe()
    try:
        child = spawn_detached([*args, "--ready-fd", str(write_fd)], log_path=log_path, pass_fds=(write_fd,))
        os.close(write_fd)
        write_fd = -1
        ready, _, _ = select.select([read_fd], [], [], timeout)
        message = os.read(read_fd, 64) if ready else b""
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    if message.startswith(b"ready"):
        return True
    if child.poll() is None:
        child.terminate()
    return False


def alive(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie awaiting its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return not handle.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def stop(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL if the process is still there after `timeout` seconds. A stopped process (SIGSTOP,
    a suspended terminal job) is continued, so it handles the SIGTERM now instead of being killed later."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # a process we did not start cannot be waited on: check its pid
        if not alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
