"""`driftlab serve`: the installed command serves the page, a browser's websocket gets the course picker drawn
(read through a VT100 emulator), SIGTERM stops it cleanly; a taken port and an address other than loopback
are said clearly. `driftlab serve --workshop` asks each browser for the learner's name first and gives them
their own state folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pyte
import pytest

from engine.tui.web import app_command, binding_note, browser_url

DRIFTLAB = Path(sys.executable).parent / "driftlab"
pytestmark = pytest.mark.skipif(not DRIFTLAB.exists(), reason=f"driftlab is not installed at {DRIFTLAB}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_line(stream: object, timeout: float) -> str:
    """One line from a process's pipe, waiting for it at most `timeout` seconds."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    readable, _, _ = select.select([fd], [], [], timeout)
    assert readable, f"nothing was said within {timeout:g}s"
    return str(stream.readline())  # type: ignore[attr-defined]


@contextlib.contextmanager
def serving(home: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {**os.environ, "DRIFTLAB_HOME": str(home)}
    process = subprocess.Popen([str(DRIFTLAB), "serve", "--port", str(port), *options], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.fixture
def served(driftlab_home: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    with serving(driftlab_home) as running:
        yield running


def picker_drawn(lines: list[str]) -> bool:
    return any("Release antipatterns" in line and "beginner" in line for line in lines)


async def picker_through_the_websocket(port: int, learner: str | None = None) -> list[str]:
    """What a browser's terminal shows once the app drew the course picker's rows (in a workshop, once the
    name screen is up, the learner typed `learner` and Enter)."""
    screen = pyte.Screen(100, 30)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + 30

    async def until(drawn: Callable[[list[str]], bool]) -> None:
        while not drawn(list(screen.display)):
            message = await asyncio.wait_for(websocket.receive(), max(deadline - time.monotonic(), 0.1))
            assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
            if message.type == aiohttp.WSMsgType.BINARY:
                stream.feed(message.data)

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws?width=100&height=30") as websocket,
    ):
        if learner is not None:
            await until(lambda lines: any("Who are you?" in line for line in lines))
            await websocket.send_json(["stdin", learner + "\r"])
        await until(picker_drawn)
    return list(screen.display)


def test_serve_gives_a_browser_the_app_and_stops_on_sigterm(served: tuple[subprocess.Popen[str], int]) -> None:
    process, port = served
    assert read_line(process.stderr, 30).strip() == f"Serving driftlab at http://127.0.0.1:{port} (Ctrl+C stops it)"

    async def browse() -> tuple[int, str, list[str]]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as page:
            body = await page.text()
        return page.status, body, await picker_through_the_websocket(port)

    status, body, screen = asyncio.run(browse())
    assert status == 200
    assert f"ws://127.0.0.1:{port}/ws" in body and "driftlab" in body
    assert any("pick a course" in line for line in screen)

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert "driftlab serve stopped" in str(process.stderr.read() if process.stderr else "")


def test_a_taken_port_is_an_error_that_says_so(driftlab_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DRIFTLAB_HOME": str(driftlab_home)}
        result = subprocess.run([str(DRIFTLAB), "serve", "--port", str(port)], env=env, capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another --port or --host"
    )


def test_listening_beyond_this_machine_is_said_loudly() -> None:
    assert binding_note("127.0.0.1", 8000, "http://127.0.0.1:8000") == [
        "Serving driftlab at http://127.0.0.1:8000 (Ctrl+C stops it)"
    ]
    warning = binding_note("0.0.0.0", 8000, browser_url("0.0.0.0", 8000))[1]
    assert warning.startswith("warning: listening on every network interface, port 8000: anyone who can reach")
    assert browser_url("0.0.0.0", 8000) == f"http://{socket.gethostname()}:8000"
    assert browser_url("0.0.0.0", 8000, "https://workshop.example/") == "https://workshop.example"
    assert browser_url("::1", 9000) == "http://[::1]:9000"
    assert "10.0.0.5" in binding_note("10.0.0.5", 8000, "http://10.0.0.5:8000")[1]


def test_each_browser_tab_runs_this_pythons_driftlab() -> None:
    assert app_command(None) == f"{sys.executable} -m engine.cli"
    assert app_command("antipatterns", trusted=True) == f"{sys.executable} -m engine.cli start antipatterns --trust"
    assert app_command(None, workshop=True) == f"{sys.executable} -m engine.cli start --workshop"
    assert app_command("antipatterns", workshop=True) == f"{sys.executable} -m engine.cli start --workshop antipatterns"


def test_a_workshop_gives_each_learner_their_own_state_and_says_so(driftlab_home: Path) -> None:
    (driftlab_home / "learners" / "ada").mkdir(parents=True)
    with serving(driftlab_home, "--workshop") as (process, port):
        assert read_line(process.stderr, 30).strip() == (
            f"Serving a driftlab workshop at http://127.0.0.1:{port} (Ctrl+C stops it)"
        )
        assert process.stderr is not None  # said together with the line above, so already read into its buffer
        assert process.stderr.readline().strip() == (
            "workshop: each browser tab asks the learner's name and keeps their labs and progress in "
            f"{driftlab_home}/learners/<name>/; 1 learner has state there (ada)"
        )

        async def browse() -> tuple[int, list[str]]:
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as page:
                await page.text()
            return page.status, await picker_through_the_websocket(port, learner="grace")

        status, screen = asyncio.run(browse())
        assert status == 200
        assert any("pick a course" in line and "grace" in line for line in screen)
        assert (driftlab_home / "learners" / "grace" / "progress.sqlite3").is_file()
        assert (driftlab_home / "learners" / "grace" / "tui.log").is_file()
        assert not (driftlab_home / "progress.sqlite3").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
